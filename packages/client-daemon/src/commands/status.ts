import { hostRebootedSince } from '../auto-policy.js';
import { bootTime } from '../reboot.js';
import { scheduleOverview } from '../schedule-overview.js';
import { expiryFields } from '../loaded-catalog.js';
import { patchList, printPatchList, scanHost } from '../scan.js';
import type { Session } from '../session.js';
import { isDirectMode } from '../upstream.js';
import { warnIfExpired } from './common.js';
import type { CommandArgs } from './common.js';

/**
 * status: what this host knows without fetching (cached catalog, detect rules,
 * ledger), the daemon's next runs and whether a reboot is pending.
 */
export async function statusCommand(session: Session, _args: CommandArgs): Promise<number> {
  const loaded = await session.catalogSource.cachedOrThrow();
  warnIfExpired(session, loaded);
  const ledger = await session.openLedger();
  const scan = await scanHost(session, ledger, loaded.catalog);
  const schedule = scheduleOverview(session.config, ledger.events);
  const flag = ledger.rebootFlag;
  const pendingReboot = flag !== null && !hostRebootedSince(flag, bootTime());
  const direct = isDirectMode(session.upstreams);
  printPatchList(session, patchList(scan.evaluations), false, {
    schedule,
    pendingReboot,
    ...expiryFields(loaded),
    ...(direct ? { mode: 'direct' } : {}),
  });
  if (!session.out.json) {
    const at = (iso: string | null): string => iso ?? '-';
    session.out.line();
    session.out.line(
      `next check ${at(schedule.nextCheckAt)}, download ${at(schedule.nextDownloadAt)}, install ${at(schedule.nextInstallAt)}` +
        ` (time zone ${schedule.timezone ?? 'local'}, jitter up to ${schedule.jitterSeconds} s, autoInstall ${schedule.autoInstall})`,
    );
    const w = schedule.maintenanceWindow;
    if (w) {
      session.out.line(
        w.open
          ? `maintenance window open until ${at(w.closesAt)}`
          : `maintenance window closed; next opens ${at(w.nextOpeningAt)}`,
      );
    }
    if (pendingReboot) {
      const label = session.out.style.paint('yellow', 'pending reboot:');
      session.out.line(`${label} ${flag?.patchIds.join(', ')} (installed ${flag?.since})`);
    }
    const pending = ledger.pendingEvents().length;
    session.out.note(
      direct
        ? `catalog ${loaded.catalog.sequence} from ${loaded.server} at ${loaded.fetchedAt} ` +
            '(direct mode: reports stay on this host)'
        : `catalog ${loaded.catalog.sequence} from ${loaded.server} at ${loaded.fetchedAt}` +
            (pending > 0 ? `; ${pending} event(s) not yet reported` : ''),
    );
  }
  return 0;
}
