// Pure policy decisions: the install gate, reboot flag clearing, the reboot command.
import t from 'tap';
import { hostRebootedSince, scheduledInstallGate, shouldRunRebootCommand } from '../src/auto-policy.js';
import { bootTime } from '../src/reboot.js';

t.test('install gate: always open without windows, else the window decides', async (t) => {
  t.same(scheduledInstallGate({ maintenanceWindows: [] }, null, new Date()), { open: true, closesAt: null });
  const windows = [{ day: 'tue' as const, start: '02:00', durationMinutes: 60 }];
  const inside = scheduledInstallGate(
    { maintenanceWindows: windows },
    'UTC',
    new Date('2026-11-24T02:10:00Z'),
  );
  t.same(inside, { open: true, closesAt: new Date('2026-11-24T03:00:00Z') });
  const outside = scheduledInstallGate(
    { maintenanceWindows: windows },
    'UTC',
    new Date('2026-11-24T04:00:00Z'),
  );
  t.equal(outside.open, false);
  t.match(outside, { reason: /outside the maintenance windows; the next opens at 2026-12-01T02:00:00.000Z/ });
});

t.test('pending reboot clears only when the host booted after the flag', async (t) => {
  const flag = { since: '2026-11-24T10:00:00.000Z' };
  t.notOk(hostRebootedSince(flag, new Date('2026-11-20T08:00:00Z')), 'booted before the install');
  t.notOk(hostRebootedSince(flag, new Date('2026-11-24T10:00:01Z')), 'within the uptime rounding slack');
  t.ok(hostRebootedSince(flag, new Date('2026-11-24T10:05:00Z')), 'booted after');
  t.equal(bootTime(1_000_000, 100).getTime(), 900_000);
});

t.test('the reboot command runs only when allowed, pending and not yet run', async (t) => {
  const flag = { since: '2026-11-24T10:00:00.000Z', patchIds: ['RB'] };
  t.notOk(shouldRunRebootCommand({ reboot: 'never' }, flag));
  t.notOk(shouldRunRebootCommand({ reboot: 'allowed' }, null));
  t.ok(shouldRunRebootCommand({ reboot: 'allowed' }, flag));
  t.notOk(shouldRunRebootCommand({ reboot: 'allowed' }, { ...flag, commandRunAt: '2026-11-24T10:01:00Z' }));
});
