// Window arithmetic across days, zones and both DST changes (pure functions, no I/O).
import t from 'tap';
import type { MaintenanceWindow } from '@patchbay/core';
import {
  isInsideWindow,
  nextWindowOpening,
  openWindowAt,
  wallClockInstant,
} from '../src/maintenance-window.js';

const at = (iso: string): Date => new Date(iso);
const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

t.test('no windows: always open, no next opening', async (t) => {
  t.ok(isInsideWindow([], at('2026-11-24T10:00:00Z'), null));
  t.equal(nextWindowOpening([], at('2026-11-24T10:00:00Z'), null), null);
});

t.test('a UTC window on one day: opening inclusive, closing exclusive', async (t) => {
  // 2026-11-24 is a Tuesday
  const w: MaintenanceWindow[] = [{ day: 'tue', start: '02:00', durationMinutes: 60, timezone: 'UTC' }];
  t.notOk(isInsideWindow(w, at('2026-11-24T01:59:59Z'), null));
  t.ok(isInsideWindow(w, at('2026-11-24T02:00:00Z'), null));
  t.ok(isInsideWindow(w, at('2026-11-24T02:59:59Z'), null));
  t.notOk(isInsideWindow(w, at('2026-11-24T03:00:00Z'), null));
  t.notOk(isInsideWindow(w, at('2026-11-25T02:30:00Z'), null), 'Wednesday is not a window day');
  t.equal(iso(nextWindowOpening(w, at('2026-11-24T02:30:00Z'), null)), '2026-12-01T02:00:00.000Z');
  t.equal(iso(nextWindowOpening(w, at('2026-11-24T01:00:00Z'), null)), '2026-11-24T02:00:00.000Z');
});

t.test('past midnight and past the end of the week (Sat 22:00 + 240 min)', async (t) => {
  const w: MaintenanceWindow[] = [{ day: 'sat', start: '22:00', durationMinutes: 240, timezone: 'UTC' }];
  // 2026-11-28 Saturday, 2026-11-29 Sunday
  t.notOk(isInsideWindow(w, at('2026-11-28T21:59:00Z'), null));
  t.ok(isInsideWindow(w, at('2026-11-28T23:30:00Z'), null));
  t.ok(isInsideWindow(w, at('2026-11-29T01:59:00Z'), null), 'Sunday 01:59 still inside');
  t.notOk(isInsideWindow(w, at('2026-11-29T02:00:00Z'), null), 'closes Sunday 02:00');
  const open = openWindowAt(w, at('2026-11-29T01:00:00Z'), null);
  t.equal(iso(open?.opensAt), '2026-11-28T22:00:00.000Z');
  t.equal(iso(open?.closesAt), '2026-11-29T02:00:00.000Z');
  t.equal(iso(nextWindowOpening(w, at('2026-11-29T01:00:00Z'), null)), '2026-12-05T22:00:00.000Z');
});

t.test('a window longer than a day, several days, several windows', async (t) => {
  const w: MaintenanceWindow[] = [
    { day: ['mon', 'thu'], start: '12:00', durationMinutes: 30, timezone: 'UTC' },
    { day: 'fri', start: '20:00', durationMinutes: 2 * 1440, timezone: 'UTC' },
  ];
  t.ok(isInsideWindow(w, at('2026-11-23T12:10:00Z'), null), 'Monday');
  t.ok(isInsideWindow(w, at('2026-11-26T12:10:00Z'), null), 'Thursday');
  t.notOk(isInsideWindow(w, at('2026-11-24T12:10:00Z'), null), 'Tuesday');
  t.ok(isInsideWindow(w, at('2026-11-29T19:59:00Z'), null), 'Sunday evening, inside the 2-day window');
  t.notOk(isInsideWindow(w, at('2026-11-29T20:00:00Z'), null));
  t.equal(iso(nextWindowOpening(w, at('2026-11-24T00:00:00Z'), null)), '2026-11-26T12:00:00.000Z');
});

t.test('time zones: the window is in its own zone, else the default zone', async (t) => {
  // Tuesday 02:00 in Kolkata (+05:30) = Monday 20:30 UTC
  const kolkata: MaintenanceWindow[] = [
    { day: 'tue', start: '02:00', durationMinutes: 60, timezone: 'Asia/Kolkata' },
  ];
  t.ok(isInsideWindow(kolkata, at('2026-11-23T20:30:00Z'), 'UTC'));
  t.notOk(isInsideWindow(kolkata, at('2026-11-24T02:30:00Z'), 'UTC'));
  t.equal(iso(nextWindowOpening(kolkata, at('2026-11-20T00:00:00Z'), null)), '2026-11-23T20:30:00.000Z');

  const noZone: MaintenanceWindow[] = [{ day: 'sat', start: '23:00', durationMinutes: 120 }];
  // New York in November is UTC-5: Sat 23:00 = Sun 04:00 UTC
  t.ok(isInsideWindow(noZone, at('2026-11-29T04:30:00Z'), 'America/New_York'));
  t.notOk(isInsideWindow(noZone, at('2026-11-29T04:30:00Z'), 'Europe/Berlin'));
  // Berlin in November is UTC+1: Sat 23:00 = Sat 22:00 UTC
  t.ok(isInsideWindow(noZone, at('2026-11-28T22:30:00Z'), 'Europe/Berlin'));
  t.equal(
    iso(nextWindowOpening(noZone, at('2026-11-28T00:00:00Z'), 'Europe/Berlin')),
    '2026-11-28T22:00:00.000Z',
  );
});

t.test('summer and winter offsets of the same window (Europe/Berlin)', async (t) => {
  const w: MaintenanceWindow[] = [
    { day: 'wed', start: '03:00', durationMinutes: 60, timezone: 'Europe/Berlin' },
  ];
  t.ok(isInsideWindow(w, at('2026-07-15T01:00:00Z'), null), 'CEST: 03:00 = 01:00 UTC');
  t.ok(isInsideWindow(w, at('2026-01-14T02:00:00Z'), null), 'CET: 03:00 = 02:00 UTC');
  t.notOk(isInsideWindow(w, at('2026-01-14T01:00:00Z'), null));
});

t.test('spring forward: a skipped opening time opens at the end of the gap', async (t) => {
  // 2026-03-29 (Sunday): Berlin clocks go 02:00 CET -> 03:00 CEST at 01:00 UTC
  t.equal(
    new Date(
      wallClockInstant({ year: 2026, month: 3, day: 29 }, { hour: 2, minute: 30 }, 'Europe/Berlin'),
    ).toISOString(),
    '2026-03-29T01:00:00.000Z',
  );
  const w: MaintenanceWindow[] = [
    { day: 'sun', start: '02:30', durationMinutes: 60, timezone: 'Europe/Berlin' },
  ];
  t.notOk(isInsideWindow(w, at('2026-03-29T00:59:00Z'), null), '01:59 CET: not yet');
  t.ok(isInsideWindow(w, at('2026-03-29T01:00:00Z'), null), '03:00 CEST: open');
  t.ok(isInsideWindow(w, at('2026-03-29T01:59:00Z'), null), 'open for 60 real minutes');
  t.notOk(isInsideWindow(w, at('2026-03-29T02:00:00Z'), null), '04:00 CEST: closed');
  t.equal(iso(nextWindowOpening(w, at('2026-03-28T12:00:00Z'), null)), '2026-03-29T01:00:00.000Z');
  // the following Sunday the window is at 02:30 CEST again
  t.equal(iso(nextWindowOpening(w, at('2026-03-29T12:00:00Z'), null)), '2026-04-05T00:30:00.000Z');
  // a time that does exist on that day is unaffected: 03:30 CEST = 01:30 UTC
  const later: MaintenanceWindow[] = [
    { day: 'sun', start: '03:30', durationMinutes: 10, timezone: 'Europe/Berlin' },
  ];
  t.equal(iso(nextWindowOpening(later, at('2026-03-28T12:00:00Z'), null)), '2026-03-29T01:30:00.000Z');
});

t.test('spring forward in America/New_York (02:00 -> 03:00 at 07:00 UTC)', async (t) => {
  const w: MaintenanceWindow[] = [
    { day: 'sun', start: '02:15', durationMinutes: 30, timezone: 'America/New_York' },
  ];
  // 2026-03-08 is the second Sunday of March
  t.equal(iso(nextWindowOpening(w, at('2026-03-07T00:00:00Z'), null)), '2026-03-08T07:00:00.000Z');
  t.ok(isInsideWindow(w, at('2026-03-08T07:29:00Z'), null));
  t.notOk(isInsideWindow(w, at('2026-03-08T07:30:00Z'), null));
});

t.test('fall back: a repeated opening time opens at its first occurrence', async (t) => {
  // 2026-11-01 (Sunday): New York clocks go 02:00 EDT -> 01:00 EST at 06:00 UTC;
  // 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST)
  t.equal(
    new Date(
      wallClockInstant({ year: 2026, month: 11, day: 1 }, { hour: 1, minute: 30 }, 'America/New_York'),
    ).toISOString(),
    '2026-11-01T05:30:00.000Z',
  );
  const w: MaintenanceWindow[] = [
    { day: 'sun', start: '01:30', durationMinutes: 45, timezone: 'America/New_York' },
  ];
  t.notOk(isInsideWindow(w, at('2026-11-01T05:29:00Z'), null));
  t.ok(isInsideWindow(w, at('2026-11-01T05:30:00Z'), null), 'first 01:30 (EDT)');
  t.ok(isInsideWindow(w, at('2026-11-01T06:14:00Z'), null), '45 real minutes later: 01:14 EST, still open');
  t.notOk(isInsideWindow(w, at('2026-11-01T06:15:00Z'), null), 'closed after 45 real minutes');
  t.notOk(isInsideWindow(w, at('2026-11-01T06:40:00Z'), null), 'the second 01:30 (EST) opens nothing');
  // Berlin falls back 2026-10-25 at 01:00 UTC (03:00 CEST -> 02:00 CET): 02:30 first at 00:30 UTC
  const berlin: MaintenanceWindow[] = [
    { day: 'sun', start: '02:30', durationMinutes: 30, timezone: 'Europe/Berlin' },
  ];
  t.equal(iso(nextWindowOpening(berlin, at('2026-10-24T12:00:00Z'), null)), '2026-10-25T00:30:00.000Z');
  t.notOk(isInsideWindow(berlin, at('2026-10-25T01:30:00Z'), null), 'second 02:30 (CET) is outside');
});

t.test('a window across a DST change lasts its real duration', async (t) => {
  // Sat 2026-10-24 23:00 CEST (21:00 UTC) + 240 min = 01:00 UTC = 02:00 CET on Sunday
  const w: MaintenanceWindow[] = [
    { day: 'sat', start: '23:00', durationMinutes: 240, timezone: 'Europe/Berlin' },
  ];
  t.ok(isInsideWindow(w, at('2026-10-25T00:59:00Z'), null));
  t.notOk(isInsideWindow(w, at('2026-10-25T01:00:00Z'), null));
});

t.test('Asia/Kolkata has no DST; a half-hour offset crosses the UTC date', async (t) => {
  const w: MaintenanceWindow[] = [
    { day: 'mon', start: '00:15', durationMinutes: 30, timezone: 'Asia/Kolkata' },
  ];
  // Monday 00:15 IST = Sunday 18:45 UTC, in March and in November alike
  t.equal(iso(nextWindowOpening(w, at('2026-03-28T00:00:00Z'), null)), '2026-03-29T18:45:00.000Z');
  t.equal(iso(nextWindowOpening(w, at('2026-10-24T00:00:00Z'), null)), '2026-10-25T18:45:00.000Z');
});
