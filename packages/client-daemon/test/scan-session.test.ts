// The scan preamble shared by the commands and the daemon's steps (commands/scan-session.ts).
import { PassThrough } from 'node:stream';
import t from 'tap';
import { checkCommand } from '../src/commands/check.js';
import { checkStep } from '../src/daemon-steps.js';
import { Output } from '../src/output.js';
import { createSession } from '../src/session.js';
import type { SessionDeps } from '../src/session.js';
import { makeSandbox } from './fixtures/client.js';
import type { Sandbox } from './fixtures/client.js';
import { runInProcess } from './fixtures/in-process.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';

/** The daemon's check step in this process, its output thrown away. */
async function daemonCheck(sb: Sandbox, deps: SessionDeps): Promise<boolean> {
  const session = createSession({ config: sb.configPath, json: true }, 'run', deps);
  session.out = new Output(true, new PassThrough().resume(), new PassThrough().resume());
  try {
    return await checkStep(session, { download: true });
  } finally {
    await session.close();
  }
}

t.test('check and the daemon check step record the same check event (offline, expired)', async (t) => {
  const staging = await startStaging(buildCatalog([{ id: 'A' }, { id: 'B' }]));
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  t.equal((await sb.run(['check'])).code, 0, 'checked while the timestamp is fresh');
  await staging.close();
  // two days on (the fixture's timestamp lives one): an injected clock, not a wait
  const later = { now: () => new Date(Date.now() + 2 * 86_400_000) };

  const check = await runInProcess(sb, checkCommand, [], later);
  t.equal(check.code, 1, check.error?.message);
  t.equal(await daemonCheck(sb, later), false, 'an expired catalog: the step does nothing, and says so');

  const messages = sb
    .ledger()
    .events.filter((e) => e.type === 'check')
    .map((e) => e.message);
  t.equal(messages.length, 3);
  const [fromCommand, fromDaemon] = messages.slice(1);
  t.match(
    fromCommand,
    /^catalog \d+: 2 applicable patch\(es\) \(staging server unreachable; cached catalog\) \(expired at [^)]+: nothing is downloaded or installed\)$/,
  );
  t.equal(fromDaemon, fromCommand, 'one wording');
});
