import t from 'tap';
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPORT_SCHEMA, validateReport } from '../src/report.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';
import { createAjv } from '../src/schema-errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary fields
function report(): Record<string, any> {
  return {
    hostId: 'prod-db-01',
    hostname: 'prod-db-01.corp',
    daemonVersion: '0.1.0',
    platform: 'linux',
    reportedAt: '2026-11-24T10:00:00Z',
    products: [{ id: 'arcserve-backup', release: '19.0' }],
    patches: [{ id: 'T5KB0042', state: 'installed', since: '2026-11-24T09:58:00Z' }],
    events: [
      {
        seq: 17,
        type: 'install',
        patchId: 'T5KB0042',
        at: '2026-11-24T09:58:00Z',
        outcome: 'ok',
        message: '',
      },
    ],
  };
}

function rejects(t: Test, value: unknown, pattern: RegExp): void {
  t.throws(() => validateReport(value), PatchbayError);
  try {
    validateReport(value);
  } catch (err) {
    t.equal((err as PatchbayError).code, ErrorCodes.REPORT_INVALID);
    t.match((err as Error).message, pattern);
  }
}

t.test('the contract example validates, from a real file; unknown fields are allowed', async (t) => {
  const dir = t.testdir({
    'report.json': JSON.stringify({ ...report(), future: { a: 1 }, pendingReboot: true }),
  });
  const value = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  t.equal(validateReport(value).hostId, 'prod-db-01');
  const minimal = { hostId: 'h', reportedAt: '2026-11-24T10:00:00Z', patches: [], events: [] };
  t.same(validateReport(minimal), minimal);
});

t.test('REPORT_SCHEMA is a plain JSON Schema another Ajv (fastify) can compile', async (t) => {
  const validate = createAjv().compile(JSON.parse(JSON.stringify(REPORT_SCHEMA)));
  t.ok(validate(report()));
  t.notOk(validate({ ...report(), hostId: '../x' }));
});

t.test('bad reports name the field', async (t) => {
  const r = report();
  r.events = [0, 1, 2, 3].map((i) => ({ ...report().events[0], seq: i + 1 }));
  r.events[3].seq = 'x';
  rejects(t, r, /^report: \/events\/3\/seq must be integer, got "x"$/);
  rejects(t, { ...report(), events: [{ ...report().events[0], seq: 0 }] }, /\/events\/0\/seq must be >= 1/);
  rejects(
    t,
    { ...report(), events: [{ ...report().events[0], seq: 1.5 }] },
    /\/events\/0\/seq must be integer/,
  );
  rejects(
    t,
    { ...report(), events: [{ ...report().events[0], type: 'reboot' }] },
    /\/events\/0\/type must be one of "check"/,
  );
  rejects(
    t,
    { ...report(), patches: [{ id: 'A', state: 'pending', since: '2026-11-24T10:00:00Z' }] },
    /\/patches\/0\/state must be one of "available"/,
  );
  rejects(t, { ...report(), hostId: '../etc' }, /\/hostId must match pattern/);
  rejects(t, { ...report(), hostId: 'a'.repeat(254) }, /\/hostId must match pattern/);
  rejects(t, { ...report(), reportedAt: 'now' }, /\/reportedAt must match format "date-time"/);
  const missing = report();
  delete missing.events;
  rejects(t, missing, /^report: \/ must have required property 'events'$/);
  rejects(t, null, /^report: \/ must be object/);
  rejects(t, [], /^report: \/ must be object/);
});

t.test('hostile sizes are refused by bounds, not by memory', async (t) => {
  const event = report().events[0];
  rejects(
    t,
    { ...report(), events: Array.from({ length: 10_001 }, (_, i) => ({ ...event, seq: i + 1 })) },
    /\/events must NOT have more than 10000 items/,
  );
  rejects(
    t,
    { ...report(), patches: new Array(100_001).fill(report().patches[0]) },
    /\/patches must NOT have more than 100000 items/,
  );
  rejects(
    t,
    { ...report(), events: [{ ...event, message: 'x'.repeat(20_000) }] },
    /\/events\/0\/message must NOT have more than 16384 characters/,
  );
  rejects(t, { ...report(), hostname: 'h'.repeat(300) }, /\/hostname must NOT have more than 255 characters/);
});
