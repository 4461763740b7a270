// The client's own mails (config `notify`): in direct mode no staging server sees this
// host's events, so the host mails them itself. One mail per report flush with the
// events new since the last mail; a mail that fails is retried at the next flush.
import path from 'node:path';
import {
  escapeHtml,
  oneLine,
  createSmtpTransport,
  errorMessage,
  readJsonFile,
  sendOne,
  sendSettings,
  writeFileAtomic,
} from '@patchbay/core';
import type {
  ClientConfig,
  Logger,
  MailContent,
  MailTransport,
  ReportEvent,
  SendSettings,
} from '@patchbay/core';
import type { Ledger } from './ledger.js';

export type ClientMailKind = 'downloaded' | 'installed' | 'uninstalled' | 'failed';

/** Events in one mail; more wait for the next one. */
const MAX_EVENTS_PER_MAIL = 100;

interface MailState {
  format: 'patchbay-client-mail/1';
  /** the newest ledger event seq a mail has covered */
  lastMailedSeq: number;
}

/** Tests swap the SMTP transport. */
let transportFactory: (settings: SendSettings) => MailTransport = createSmtpTransport;
export function setTransportFactory(factory?: (settings: SendSettings) => MailTransport): void {
  transportFactory = factory ?? createSmtpTransport;
}

/** What a ledger event means for notify.events; checks and postponements are not mailed. */
export function mailKind(event: ReportEvent): ClientMailKind | undefined {
  if (event.type === 'check') return undefined;
  if (event.outcome === 'failed') return 'failed';
  if (event.outcome !== 'ok') return undefined;
  if (event.type === 'download') return 'downloaded';
  if (event.type === 'install') return 'installed';
  if (event.type === 'uninstall') return 'uninstalled';
  return undefined;
}

/** The mail for a batch of events (plain text and HTML; event text is escaped). */
export function composeClientMail(
  config: Pick<ClientConfig, 'hostId' | 'hostname'>,
  events: readonly (ReportEvent & { kind: ClientMailKind })[],
  subjectPrefix: string,
): MailContent {
  const byKind = new Map<ClientMailKind, string[]>();
  for (const e of events) byKind.set(e.kind, [...(byKind.get(e.kind) ?? []), e.patchId ?? '(no patch)']);
  const summary = [...byKind].map(([kind, ids]) => `${kind} ${[...new Set(ids)].join(', ')}`).join('; ');
  const subject = oneLine(`${subjectPrefix} ${config.hostId}: ${summary}`).slice(0, 250);
  const line = (e: ReportEvent & { kind: ClientMailKind }): string =>
    `${e.at}  ${e.kind}  ${e.patchId ?? '-'}  (${e.type} ${e.outcome})${e.message ? `: ${e.message}` : ''}`;
  const footer = `patchbay client on ${config.hostname} (host id ${config.hostId})`;
  const text = [...events.map(line), '', '-- ', footer, ''].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;font-size:14px"><ul>',
    ...events.map((e) => `<li>${escapeHtml(line(e))}</li>`),
    `</ul><p style="color:#666;font-size:12px">${escapeHtml(footer)}</p></body></html>`,
    '',
  ].join('\n');
  return { subject, text, html };
}

/**
 * Mail the events since the last mail that notify.events asks for. Never throws: a
 * failed mail is logged and its events go out with the next flush. Without `notify`
 * this does nothing at all.
 */
export async function mailClientEvents(config: ClientConfig, ledger: Ledger, logger: Logger): Promise<void> {
  const notify = config.notify;
  const settings = notify ? sendSettings(notify) : null;
  if (!notify || !settings) return;
  const stateFile = path.join(config.dataDir, 'mail-state.json');
  try {
    const state = await readJsonFile<MailState>(stateFile);
    // first use (or a ledger started afresh): what is not reported yet is new; older history is not mailed
    const newest = ledger.events.at(-1)?.seq ?? 0;
    const after =
      state && state.lastMailedSeq <= newest ? state.lastMailedSeq : Math.min(ledger.lastAckedSeq, newest);
    const wanted = new Set(notify.events ?? ['downloaded', 'installed', 'failed']);
    const fresh = ledger.events.filter((e) => e.seq > after).slice(0, MAX_EVENTS_PER_MAIL);
    const last = fresh.at(-1);
    if (!last) return;
    const mailed = fresh
      .map((e) => ({ ...e, kind: mailKind(e) }))
      .filter((e): e is ReportEvent & { kind: ClientMailKind } => e.kind !== undefined && wanted.has(e.kind));
    if (mailed.length > 0) {
      const transport = transportFactory(settings);
      try {
        await sendOne(
          transport,
          settings,
          composeClientMail(config, mailed, notify.subjectPrefix ?? '[patchbay]'),
        );
      } finally {
        transport.close();
      }
      logger.info({ events: mailed.length, to: settings.to }, 'events mailed');
    }
    const next: MailState = { format: 'patchbay-client-mail/1', lastMailedSeq: last.seq };
    await writeFileAtomic(stateFile, JSON.stringify(next, null, 2) + '\n');
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, 'events not mailed; retried with the next report');
  }
}
