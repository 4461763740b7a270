// A stand-in for a Windows command-line tool (taskkill, icacls…) on Linux: a real executable
// shell script put first on PATH, so the code under test finds it by name as it would find
// the real one on Windows. Each call appends its argv to a record: one line a call, each
// argument ended by the unit separator (\x1f), so quotes and backslashes come back as given.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface FakeTool {
  /** the argv of every call so far (without the program name) */
  calls(): string[][];
}

/**
 * Write `dir/bin/<name>`: records its arguments, then runs `body` (sh; "$@" are the
 * arguments). Prepends `dir/bin` to this process's PATH (a test file runs in its own process).
 */
export function installFakeTool(dir: string, name: string, body: string): FakeTool {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const record = path.join(dir, `${name}.calls`);
  writeFileSync(record, '');
  const script = [
    '#!/bin/sh',
    `{ [ $# -eq 0 ] || printf '%s\\037' "$@"; printf '\\n'; } >> '${record}'`,
    body,
  ].join('\n');
  writeFileSync(path.join(bin, name), `${script}\n`);
  chmodSync(path.join(bin, name), 0o755);
  if (!(process.env.PATH ?? '').startsWith(`${bin}${path.delimiter}`)) {
    process.env.PATH = `${bin}${path.delimiter}${process.env.PATH ?? ''}`;
  }
  return {
    calls: () =>
      readFileSync(record, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((line) => line.split('\x1f').slice(0, -1)),
  };
}
