import type { Session } from '../session.js';
import { isDirectMode } from '../upstream.js';
import type { ReportEvent } from '@patchbay/core';
import type { CommandArgs, HistoryFilter } from './common.js';

function matches(event: ReportEvent, filter: HistoryFilter): boolean {
  const at = Date.parse(event.at);
  return (
    (filter.patch === undefined || event.patchId === filter.patch) &&
    (filter.type === undefined || event.type === filter.type) &&
    (filter.since === undefined || at >= filter.since) &&
    (filter.until === undefined || at < filter.until)
  );
}

/**
 * history: this host's events, oldest first, with whether a server has them yet. In
 * direct mode (every server a publisher repository) nothing is reported: the history is local.
 */
export async function historyCommand(session: Session, args: CommandArgs): Promise<number> {
  const ledger = await session.openLedger();
  const direct = isDirectMode(session.upstreams);
  const events = ledger.events
    .filter((e) => matches(e, args.filter))
    .map((e) => ({ ...e, reported: !direct && e.seq <= ledger.lastAckedSeq }));
  session.out.document(direct ? { events, mode: 'direct' } : { events });
  if (direct) session.out.note('direct mode (no staging server): events are kept on this host only');
  session.out.tableOr(
    ['SEQ', 'AT', 'TYPE', 'PATCH', 'OUTCOME', 'REPORTED', 'MESSAGE'],
    events.map((e) => [
      String(e.seq),
      e.at,
      e.type,
      e.patchId ?? '-',
      e.outcome,
      direct ? 'local' : e.reported ? 'yes' : 'no',
      e.message ?? '',
    ]),
    'no events yet',
  );
  return 0;
}
