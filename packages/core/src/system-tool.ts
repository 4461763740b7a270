// Where patchbay finds the Windows programs it runs (reg, taskkill, icacls, whoami).
import path from 'node:path';

/**
 * `name` as patchbay runs it: on Windows, `%SystemRoot%\System32\<name>.exe` by its full path,
 * never by search (CreateProcess looks in the program's own and the current directory before
 * PATH, and a planted taskkill.exe there would run as LocalSystem); elsewhere the name, found
 * on PATH (the tests' stand-ins). `platform` is where it runs: the real host by default.
 */
export function systemToolPath(
  name: string,
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (platform !== 'win32') return name;
  return path.win32.join(env.SystemRoot ?? 'C:\\Windows', 'System32', `${name}.exe`);
}
