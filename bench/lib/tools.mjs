// The external programs the baselines need. Missing ones make their rows "skipped", with the
// line that installs them; the benchmark itself installs nothing.
import { spawnSync } from 'node:child_process';

const PACKAGES = { nginx: 'nginx', wrk: 'wrk', curl: 'curl', openssl: 'openssl' };

export function findTools(disabled = []) {
  const found = {};
  for (const name of Object.keys(PACKAGES)) {
    if (disabled.includes(name)) {
      found[name] = null;
      continue;
    }
    const probe = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    found[name] = probe.status === 0 ? probe.stdout.trim() : null;
  }
  return found;
}

export function installHint(names) {
  return `apt-get install ${names.map((n) => PACKAGES[n]).join(' ')}`;
}
