import type { Session } from '../session.js';
import type { CommandArgs } from './common.js';

/** history: this host's events, oldest first, with whether a server has them yet. */
export async function historyCommand(session: Session, _args: CommandArgs): Promise<number> {
  const ledger = await session.openLedger();
  const events = ledger.events.map((e) => ({ ...e, reported: e.seq <= ledger.lastAckedSeq }));
  session.out.document({ events });
  if (events.length === 0) {
    session.out.line('no events yet');
    return 0;
  }
  session.out.table(
    ['SEQ', 'AT', 'TYPE', 'PATCH', 'OUTCOME', 'REPORTED', 'MESSAGE'],
    events.map((e) => [
      String(e.seq),
      e.at,
      e.type,
      e.patchId ?? '-',
      e.outcome,
      e.reported ? 'yes' : 'no',
      e.message ?? '',
    ]),
  );
  return 0;
}
