// The host's side of signing.targets "mirror" (CONTRACT §5): against a real staging server that
// signs targets itself (its online key listed for targets, snapshot and timestamp), the host
// verifies and lists the feed's patches from trust.root, and doctor warns that an online
// staging-server key signs targets. In this process over 127.0.0.1.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { checkCommand } from '../src/commands/check.js';
import { doctorCommand } from '../src/commands/doctor.js';
import { startMirrorSigned } from '../../staging-server/test/fixtures/mirror-signed.js';
import { simplePatch } from '../../staging-server/test/fixtures/sync-upstream.js';
import { makeSandbox } from './fixtures/client.js';
import { runInProcess } from './fixtures/in-process.js';

t.test('a host against a mirror-signed staging server: check works, doctor warns', async (t) => {
  const dir = t.testdir();
  const { server, root1 } = await startMirrorSigned(t, path.join(dir, 'server'), {
    sequence: 1,
    patches: [simplePatch('A'), simplePatch('C', { requires: ['A'] })],
  });
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? 'synced');

  const rootFile = path.join(dir, 'root.json');
  writeFileSync(rootFile, root1);
  const sb = makeSandbox(path.join(dir, 'host'), () => [server.base]);
  sb.writeConfig({ trust: { root: rootFile } });

  const check = await runInProcess(sb, checkCommand);
  t.equal(check.code, 0, check.error?.message);
  t.same(((check.doc.patches as { id: string }[] | undefined) ?? []).map((p) => p.id).sort(), ['A', 'C']);
  t.match(check.stderr, /online staging-server key sign targets/, 'check warns');

  const doctor = await runInProcess(sb, doctorCommand);
  t.match(JSON.stringify(doctor.doc), /an online staging-server key signs targets/, 'doctor warns');
  t.match(JSON.stringify(doctor.doc), /a compromised staging server controls this host/);
});
