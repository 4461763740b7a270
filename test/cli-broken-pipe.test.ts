// Every program's output piped into a reader that has gone (`patchbay-server --help | head -1`):
// the write fails with EPIPE, which means nobody reads any more — not a crash with a stack
// trace and exit 1. Real child processes of each bin, their stdout closed before they write.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BINS = [
  'packages/staging-server/bin/patchbay-server.js',
  'packages/client-daemon/bin/patchbay-client.js',
  'packages/publisher/bin/patchbay-publish.js',
  'packages/sample-feed/bin/patchbay-sample-feed.js',
  'packages/sample-feed/bin/patchbay-upstream.js',
];

function helpWithClosedStdout(bin: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(`../${bin}`, import.meta.url)), '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

for (const bin of BINS) {
  t.test(`${bin} --help into a closed pipe ends quietly`, async (t) => {
    const { code, stderr } = await helpWithClosedStdout(bin);
    t.equal(code, 0, stderr);
    t.notMatch(stderr, /EPIPE|\n\s+at /, 'no stack trace');
  });
}
