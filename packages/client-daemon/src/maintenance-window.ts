// Weekly maintenance windows (policy.maintenanceWindows): pure time arithmetic, no I/O.
//
// A window opens on each of its days at `start` (wall-clock time in its zone) and
// stays open for `durationMinutes` of real elapsed time, so it may run past
// midnight and past the end of the week (Sat 22:00 + 240 min closes Sun 02:00).
// Around DST changes an opening time is the instant the zone's clock shows it:
// - a time skipped by spring-forward (02:30 in Europe/Berlin on the last Sunday of
//   March) opens at the end of the gap (03:00 local), the first instant after it;
// - a time that happens twice at fall-back (01:30 in America/New_York on the first
//   Sunday of November) opens at its first occurrence (01:30 EDT).
import { DateTime } from 'luxon';
import type { MaintenanceWindow, Weekday } from '@patchbay/core';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 24 * 60;
/** luxon weekday 1 (Monday) … 7 (Sunday) */
const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** The zone a window's times are in: its own, else the schedule's, else the host's local time. */
export function windowZone(window: MaintenanceWindow, defaultZone: string | null): string {
  return window.timezone ?? defaultZone ?? 'local';
}

function offsetMinutesAt(ms: number, zone: string): number {
  return DateTime.fromMillis(ms, { zone }).offset;
}

function parseStart(start: string): { hour: number; minute: number } {
  const [hour, minute] = start.split(':').map(Number);
  return { hour: hour ?? 0, minute: minute ?? 0 };
}

/**
 * The instant (ms since the epoch) at which `zone`'s clock first shows the given
 * wall-clock time on the given date; for a time skipped by a DST gap, the end of
 * the gap.
 */
export function wallClockInstant(
  date: { year: number; month: number; day: number },
  time: { hour: number; minute: number },
  zone: string,
): number {
  // the wall-clock reading expressed as if it were UTC; instant = wall - offset
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
  const offsets = [
    ...new Set([
      offsetMinutesAt(wall - 36 * 60 * MINUTE_MS, zone),
      offsetMinutesAt(wall, zone),
      offsetMinutesAt(wall + 36 * 60 * MINUTE_MS, zone),
    ]),
  ];
  const occurrences = offsets
    .map((offset) => wall - offset * MINUTE_MS)
    .filter((instant) => offsetMinutesAt(instant, zone) * MINUTE_MS === wall - instant);
  if (occurrences.length > 0) return Math.min(...occurrences);
  // In a gap: the first minute whose wall-clock reading is at or after the requested time.
  let lo = wall - Math.max(...offsets) * MINUTE_MS;
  let hi = wall - Math.min(...offsets) * MINUTE_MS;
  while (hi - lo > MINUTE_MS) {
    const mid = lo + Math.floor((hi - lo) / MINUTE_MS / 2) * MINUTE_MS;
    if (mid + offsetMinutesAt(mid, zone) * MINUTE_MS >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

function windowDays(window: MaintenanceWindow): Set<Weekday> {
  return new Set(Array.isArray(window.day) ? window.day : [window.day]);
}

/**
 * Openings of `window` on the local dates from `fromDay` to `toDay` days after the
 * local date of `at` (negative = before), as epoch ms, ascending.
 */
function openingsAround(
  window: MaintenanceWindow,
  at: Date,
  defaultZone: string | null,
  fromDay: number,
  toDay: number,
): number[] {
  const zone = windowZone(window, defaultZone);
  const local = DateTime.fromJSDate(at).setZone(zone);
  const days = windowDays(window);
  const start = parseStart(window.start);
  const openings: number[] = [];
  for (let k = fromDay; k <= toDay; k++) {
    // calendar arithmetic on the local date, at noon so no DST change can move the day
    const day = local.set({ hour: 12, minute: 0, second: 0, millisecond: 0 }).plus({ days: k });
    if (!days.has(WEEKDAYS[day.weekday - 1]!)) continue;
    openings.push(wallClockInstant({ year: day.year, month: day.month, day: day.day }, start, zone));
  }
  return openings;
}

/** The window (and its opening) containing `at`, if any. */
export function openWindowAt(
  windows: readonly MaintenanceWindow[],
  at: Date,
  defaultZone: string | null,
): { window: MaintenanceWindow; opensAt: Date; closesAt: Date } | undefined {
  const t = at.getTime();
  for (const window of windows) {
    const lookBack = Math.ceil(window.durationMinutes / DAY_MINUTES) + 1;
    for (const opening of openingsAround(window, at, defaultZone, -lookBack, 0)) {
      const closing = opening + window.durationMinutes * MINUTE_MS;
      if (opening <= t && t < closing) {
        return { window, opensAt: new Date(opening), closesAt: new Date(closing) };
      }
    }
  }
  return undefined;
}

/**
 * True when a scheduled install may start at `at`: no windows configured (always
 * open), or `at` is inside one (opening inclusive, closing exclusive).
 */
export function isInsideWindow(
  windows: readonly MaintenanceWindow[],
  at: Date,
  defaultZone: string | null,
): boolean {
  return windows.length === 0 || openWindowAt(windows, at, defaultZone) !== undefined;
}

/** The first opening of any window strictly after `at`; null when there are no windows. */
export function nextWindowOpening(
  windows: readonly MaintenanceWindow[],
  at: Date,
  defaultZone: string | null,
): Date | null {
  const t = at.getTime();
  let best: number | undefined;
  for (const window of windows) {
    for (const opening of openingsAround(window, at, defaultZone, 0, 8)) {
      if (opening > t && (best === undefined || opening < best)) best = opening;
    }
  }
  return best === undefined ? null : new Date(best);
}
