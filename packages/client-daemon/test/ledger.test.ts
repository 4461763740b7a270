import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Ledger } from '../src/ledger.js';

t.test('seq grows across reopen; acknowledged events leave the outbox', async (t) => {
  const file = path.join(t.testdir(), 'ledger.json');
  const a = await Ledger.open(file);
  await a.recordOutcome('P1', 'installed', { type: 'install', outcome: 'ok' });
  await a.recordOutcome('P2', 'failed', { type: 'install', outcome: 'failed', message: 'boom' });
  t.same(
    a.pendingEvents().map((e) => e.seq),
    [1, 2],
  );
  await a.acknowledge(1);
  const b = await Ledger.open(file);
  t.same(
    b.pendingEvents().map((e) => e.seq),
    [2],
  );
  t.equal(b.patches.P2?.state, 'failed');
  t.equal(b.patches.P2?.message, 'boom');
  t.equal(b.observed.P1?.state, 'installed');
  const e = b.addEvent({ type: 'check', outcome: 'ok' });
  t.equal(e.seq, 3);
  await b.save();
  t.equal(JSON.parse(readFileSync(file, 'utf8')).nextSeq, 4);
});

t.test('an action a crash left pending becomes a failure with an error event', async (t) => {
  const file = path.join(t.testdir(), 'ledger.json');
  const a = await Ledger.open(file);
  await a.markPending('P1', 'install');
  const b = await Ledger.open(file);
  t.same(await b.recoverInterrupted(), ['P1']);
  t.equal(b.patches.P1?.state, 'failed');
  t.match(b.events.at(-1), { type: 'error', patchId: 'P1', outcome: 'failed' });
  t.same(await (await Ledger.open(file)).recoverInterrupted(), [], 'recovered once');
});

t.test('observe keeps since while the state holds', async (t) => {
  // An injected clock: the minute between the observations passes without waiting for it.
  let clock = Date.parse('2026-12-07T08:00:00Z');
  const a = await Ledger.open(path.join(t.testdir(), 'ledger.json'), { now: () => new Date(clock) });
  t.ok(a.observe([{ id: 'P', state: 'available' }]));
  t.equal(a.observed.P?.since, '2026-12-07T08:00:00.000Z');
  clock += 60_000;
  t.notOk(a.observe([{ id: 'P', state: 'available' }]));
  t.equal(a.observed.P?.since, '2026-12-07T08:00:00.000Z', 'same state: since unchanged');
  t.ok(a.observe([{ id: 'P', state: 'installed' }]));
  t.equal(a.observed.P?.since, '2026-12-07T08:01:00.000Z', 'new state: since is now');
  t.equal(
    a.addEvent({ type: 'check', outcome: 'ok' }).at,
    '2026-12-07T08:01:00.000Z',
    'events use the clock too',
  );
});

t.test(
  'a ledger has an instance id for good; one from before instance ids gets one, saved before use',
  async (t) => {
    const dir = t.testdir();
    const file = path.join(dir, 'ledger.json');
    const a = await Ledger.open(file);
    t.match(a.instanceId, /^[0-9a-f-]{36}$/);
    await a.saveIfDirty();
    t.equal(
      JSON.parse(readFileSync(file, 'utf8')).instanceId,
      a.instanceId,
      'saved before any report names it',
    );
    t.equal((await Ledger.open(file)).instanceId, a.instanceId, 'kept across reopen');
    t.not(
      (await Ledger.open(path.join(dir, 'other.json'))).instanceId,
      a.instanceId,
      'another data dir, another id',
    );

    // a ledger written by a daemon without instance ids: it keeps its seq and gains an id
    const old = path.join(dir, 'old.json');
    const legacy = JSON.parse(readFileSync(file, 'utf8'));
    delete legacy.instanceId;
    legacy.nextSeq = 42;
    writeFileSync(old, JSON.stringify(legacy));
    const upgraded = await Ledger.open(old);
    t.match(upgraded.instanceId, /^[0-9a-f-]{36}$/);
    t.equal(upgraded.addEvent({ type: 'check', outcome: 'ok' }).seq, 42);
    await upgraded.saveIfDirty();
    t.equal(JSON.parse(readFileSync(old, 'utf8')).instanceId, upgraded.instanceId);
  },
);
