// Renders notices as short mails, plain text plus HTML. One notice gets a mail of
// its own; several (a digest) get one mail with a section per event kind.
// Everything that comes from a feed or a client report is HTML-escaped.
import type { HostNotice, Mail, Notice, NotifyEventKind, PatchAvailableNotice, PatchInfo } from './types.js';
import { escapeHtml, oneLine, sanitizeTerminal } from '@patchbay/core';
import { NOTIFY_EVENTS } from './types.js';

export interface ComposeOptions {
  subjectPrefix: string;
  /** who sends it, shown in the footer (the server's host name) */
  serverName: string;
}

const SECTION_TITLES: Record<NotifyEventKind, string> = {
  'patch-available': 'New patches available',
  downloaded: 'Downloaded',
  installed: 'Installed',
  failed: 'Failed',
  uninstalled: 'Uninstalled',
};

const MAX_SUBJECT_IDS = 3;

export { escapeHtml };

export function composeMail(notices: readonly Notice[], options: ComposeOptions): Mail {
  if (notices.length === 0) throw new RangeError('composeMail needs at least one notice');
  const subject = oneLine(`${options.subjectPrefix} ${subjectOf(notices)}`.trim());
  const sections = groupSections(notices);
  const text = [
    ...(notices.length === 1 ? [] : [`${summaryOf(sections)}.`, '']),
    ...sections.flatMap(([kind, items]) => textSection(kind, items, notices.length === 1)),
    '-- ',
    `patchbay staging server on ${options.serverName}`,
    '',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;font-size:14px">',
    ...(notices.length === 1 ? [] : [`<p>${escapeHtml(summaryOf(sections))}.</p>`]),
    ...sections.map(([kind, items]) => htmlSection(kind, items)),
    `<p style="color:#666;font-size:12px">patchbay staging server on ${escapeHtml(options.serverName)}</p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject, text, html };
}

type Section = [NotifyEventKind, Notice[]];

/** Notices grouped by kind, in notify.events order; new patches merged and deduplicated. */
function groupSections(notices: readonly Notice[]): Section[] {
  const sections: Section[] = [];
  for (const kind of NOTIFY_EVENTS) {
    const items = notices.filter((n) => n.kind === kind);
    if (items.length === 0) continue;
    sections.push([
      kind,
      kind === 'patch-available' ? [mergeAvailable(items as PatchAvailableNotice[])] : items,
    ]);
  }
  return sections;
}

function mergeAvailable(items: PatchAvailableNotice[]): PatchAvailableNotice {
  const byId = new Map<string, PatchInfo>();
  for (const item of items) for (const patch of item.patches) byId.set(patch.id, patch);
  const last = items[items.length - 1] as PatchAvailableNotice;
  return { ...last, patches: [...byId.values()] };
}

function countOf(kind: NotifyEventKind, items: Notice[]): number {
  return kind === 'patch-available' ? (items[0] as PatchAvailableNotice).patches.length : items.length;
}

function summaryOf(sections: Section[]): string {
  return sections
    .map(([kind, items]) => {
      const n = countOf(kind, items);
      return kind === 'patch-available' ? `${n} new ${plural(n, 'patch', 'patches')}` : `${n} ${kind}`;
    })
    .join(', ');
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

function idList(ids: string[]): string {
  const shown = ids.slice(0, MAX_SUBJECT_IDS).join(', ');
  return ids.length > MAX_SUBJECT_IDS ? `${shown} and ${ids.length - MAX_SUBJECT_IDS} more` : shown;
}

function subjectOf(notices: readonly Notice[]): string {
  if (notices.length === 1) {
    const notice = notices[0] as Notice;
    if (notice.kind === 'patch-available') {
      const n = notice.patches.length;
      return `${n} new ${plural(n, 'patch', 'patches')} available: ${idList(notice.patches.map((p) => p.id))}`;
    }
    return notice.kind === 'failed'
      ? `${notice.action} of ${notice.patch.id} failed on ${notice.hostId}`
      : `${notice.patch.id} ${notice.kind} on ${notice.hostId}`;
  }
  const hosts = new Set(notices.flatMap((n) => (n.kind === 'patch-available' ? [] : [n.hostId])));
  const onlyHost = notices.every((n) => n.kind !== 'patch-available') && hosts.size === 1;
  const summary = summaryOf(groupSections(notices));
  return onlyHost ? `${[...hosts][0]}: ${summary}` : summary;
}

function patchLabel(patch: PatchInfo): string {
  const facts = [patch.severity, patch.release === null ? null : `release ${patch.release}`].filter(Boolean);
  return `${patch.id} ${patch.title ?? '(not in the current catalog)'}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`;
}

function hostLabel(notice: HostNotice): string {
  return notice.hostname && notice.hostname !== notice.hostId
    ? `${notice.hostId} (${notice.hostname})`
    : notice.hostId;
}

/**
 * The installer's output as indented lines: what the host sent, cleaned again here (the
 * server does not trust a client's cleaning), so no escape sequence reaches a mail reader.
 */
function outputLines(output: string | undefined, indent: string): string[] {
  if (!output) return [];
  const lines = sanitizeTerminal(output.replace(/\r\n?/g, '\n')).split('\n');
  return [`${indent}Installer output (last lines):`, ...lines.map((l) => `${indent}  | ${l}`)];
}

function htmlOutput(output: string | undefined): string {
  if (!output) return '';
  return `<pre style="margin:0.3em 0 0;white-space:pre-wrap">${escapeHtml(sanitizeTerminal(output))}</pre>`;
}

function textSection(kind: NotifyEventKind, items: Notice[], single: boolean): string[] {
  if (kind === 'patch-available') {
    const notice = items[0] as PatchAvailableNotice;
    const n = notice.patches.length;
    return [
      `${n} new ${plural(n, 'patch is', 'patches are')} available on the staging server (catalog sequence ${notice.catalogSequence}):`,
      '',
      ...notice.patches.map((p) => `  - ${patchLabel(p)}`),
      '',
      'Scheduled installs take critical patches only; install others with "patchbay-client install ID".',
      '',
    ];
  }
  const hostItems = items as HostNotice[];
  if (single) {
    const notice = hostItems[0] as HostNotice;
    return [
      `Host:     ${hostLabel(notice)}`,
      `Patch:    ${patchLabel(notice.patch)}`,
      `Action:   ${notice.action}`,
      `Outcome:  ${notice.outcome}`,
      `At:       ${notice.at}`,
      ...(notice.message ? [`Message:  ${notice.message}`] : []),
      ...outputLines(notice.output, ''),
      '',
    ];
  }
  return [
    `${SECTION_TITLES[kind]}:`,
    ...hostItems.flatMap((n) => [
      `  - ${hostLabel(n)}: ${n.action} ${patchLabel(n.patch)}: ${n.outcome} at ${n.at}${n.message ? ` (${n.message})` : ''}`,
      ...outputLines(n.output, '    '),
    ]),
    '',
  ];
}

function htmlPatchCells(patch: PatchInfo): string {
  return [
    `<td><b>${escapeHtml(patch.id)}</b></td>`,
    `<td>${escapeHtml(patch.title ?? '(not in the current catalog)')}</td>`,
    `<td>${escapeHtml(patch.severity ?? '')}</td>`,
    `<td>${escapeHtml(patch.release ?? '')}</td>`,
  ].join('');
}

const TABLE = '<table cellpadding="4" style="border-collapse:collapse" border="1">';

function htmlSection(kind: NotifyEventKind, items: Notice[]): string {
  if (kind === 'patch-available') {
    const notice = items[0] as PatchAvailableNotice;
    return [
      `<h3>${SECTION_TITLES[kind]} (catalog sequence ${notice.catalogSequence})</h3>`,
      TABLE,
      '<tr><th>Patch</th><th>Title</th><th>Severity</th><th>Release</th></tr>',
      ...notice.patches.map((p) => `<tr>${htmlPatchCells(p)}</tr>`),
      '</table>',
      '<p>Scheduled installs take critical patches only.</p>',
    ].join('\n');
  }
  return [
    `<h3>${SECTION_TITLES[kind]}</h3>`,
    TABLE,
    '<tr><th>Host</th><th>Action</th><th>Patch</th><th>Title</th><th>Severity</th><th>Release</th><th>Outcome</th><th>At</th><th>Message</th></tr>',
    ...(items as HostNotice[]).map(
      (n) =>
        `<tr><td>${escapeHtml(hostLabel(n))}</td><td>${escapeHtml(n.action)}</td>${htmlPatchCells(n.patch)}` +
        `<td>${escapeHtml(n.outcome)}</td><td>${escapeHtml(n.at)}</td><td>${escapeHtml(n.message)}${htmlOutput(n.output)}</td></tr>`,
    ),
    '</table>',
  ].join('\n');
}
