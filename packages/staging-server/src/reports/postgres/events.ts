// Reports' events in an ingest transaction: each stored once per (hostId, instanceId, seq),
// in one statement for all the reports of a batch. An event not stored is a resend, or a
// conflict when the event under its key says something else.
import type { ClientReport, ReportEvent } from '@patchbay/core';
import type { EventConflict } from '../types.js';
import { prepared, type Sql } from './reports-database.js';
import { storableOrNull, storableText } from './storable-text.js';

/** What an event says; two events under one key that differ in any of it conflict. */
type EventContent = EventConflict['stored'];

const CONTENT_FIELDS = ['type', 'patchId', 'at', 'outcome', 'message', 'output'] as const;

function sameContent(a: EventContent, b: EventContent): boolean {
  return CONTENT_FIELDS.every((field) => a[field] === b[field]);
}

// A daemon upgraded to instance ids resends its unacknowledged outbox under its new id: an
// identical event the host sent before without one (instance '') is that resend, not news.
// Ordered by the reports' order, so ids (the history's tie-break) follow it. The events of
// several hosts' reports in one statement.
const INSERT_EVENTS = prepared(
  'insert-host-events',
  `
INSERT INTO reports.events (host_id, instance_id, seq, type, patch_id, at, outcome, message, output, received_at)
SELECT e.host_id, e.instance_id, e.seq, e.type, e.patch_id, e.at, e.outcome, e.message, e.output, e.received_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::text[], $10::text[])
  WITH ORDINALITY AS e (host_id, received_at, instance_id, seq, type, patch_id, at, outcome, message, output, n)
WHERE e.instance_id = '' OR NOT EXISTS (
  SELECT 1 FROM reports.events l
  WHERE l.host_id = e.host_id AND l.instance_id = '' AND l.seq = e.seq
    AND (l.type, l.patch_id, l.at, l.outcome, l.message, l.output)
      IS NOT DISTINCT FROM (e.type, e.patch_id, e.at, e.outcome, e.message, e.output))
ORDER BY e.n
ON CONFLICT (host_id, instance_id, seq) DO NOTHING
RETURNING host_id AS "hostId", instance_id AS "instanceId", seq`,
);

const EVENTS_UNDER_KEYS = prepared(
  'events-under-keys',
  `
SELECT instance_id AS "instanceId", seq, type, patch_id AS "patchId", at, outcome, message, output
FROM reports.events WHERE host_id = $1 AND (instance_id, seq) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))`,
);

interface SentEvent {
  event: ReportEvent;
  instanceId: string;
  content: EventContent;
}

const keyOf = (instanceId: string, seq: number) => `${instanceId}\n${seq}`;

function sentEvents(report: ClientReport): SentEvent[] {
  return report.events.map((event) => ({
    event,
    // Per-event instanceId: a rollup forwards events of a host's earlier instances too.
    instanceId: event.instanceId ?? report.instanceId ?? '',
    content: {
      type: event.type,
      patchId: storableOrNull(event.patchId),
      at: event.at,
      outcome: storableText(event.outcome),
      message: storableText(event.message ?? ''),
      output: storableOrNull(event.output),
    },
  }));
}

/** What addEvents did with a report's events: those newly stored, and those whose key holds another event. */
export interface AddedEvents {
  newEvents: ReportEvent[];
  conflicts: EventConflict[];
}

/** Add the reports' events once per key (`reports` name each host once), answering per report. */
export async function addEvents(
  sql: Sql,
  reports: readonly { report: ClientReport; receivedAt: string }[],
): Promise<AddedEvents[]> {
  const sent = reports.map(({ report }) => sentEvents(report));
  const rows = reports.flatMap(({ report, receivedAt }, r) =>
    sent[r]!.map((s) => ({ hostId: report.hostId, receivedAt, s })),
  );
  if (rows.length === 0) return reports.map(() => ({ newEvents: [], conflicts: [] }));
  const column = <T>(pick: (row: (typeof rows)[number]) => T) => rows.map(pick);
  const inserted = await sql.rows<{ hostId: string; instanceId: string; seq: number }>(INSERT_EVENTS, [
    column((r) => r.hostId),
    column((r) => r.receivedAt),
    column((r) => r.s.instanceId),
    column((r) => r.s.event.seq),
    column((r) => r.s.content.type),
    column((r) => r.s.content.patchId),
    column((r) => r.s.content.at),
    column((r) => r.s.content.outcome),
    column((r) => r.s.content.message),
    column((r) => r.s.content.output),
  ]);
  const fresh = new Set(inserted.map((row) => `${row.hostId}\n${keyOf(row.instanceId, row.seq)}`));
  const answers: AddedEvents[] = [];
  for (const [r, { report }] of reports.entries()) {
    const newEvents: ReportEvent[] = [];
    const rest: SentEvent[] = [];
    for (const s of sent[r]!) {
      // The first event under a key is the one stored when the report holds the key twice.
      if (fresh.delete(`${report.hostId}\n${keyOf(s.instanceId, s.event.seq)}`)) newEvents.push(s.event);
      else rest.push(s);
    }
    // Rare (a resend, or a conflict): read back one host at a time.
    const conflicts = rest.length === 0 ? [] : await conflictsOf(sql, report.hostId, rest);
    answers.push({ newEvents, conflicts });
  }
  return answers;
}

/** The events not stored whose key holds an event with other content (resends are not). */
async function conflictsOf(sql: Sql, hostId: string, rest: readonly SentEvent[]): Promise<EventConflict[]> {
  // Each key and its legacy twin (instance ''), read in one query.
  const keys = rest.flatMap((s) => [
    [s.instanceId, s.event.seq],
    ['', s.event.seq],
  ]);
  const stored = await sql.rows<EventContent & { instanceId: string; seq: number }>(EVENTS_UNDER_KEYS, [
    hostId,
    keys.map(([instanceId]) => instanceId),
    keys.map(([, seq]) => seq),
  ]);
  const byKey = new Map(stored.map(({ instanceId, seq, ...content }) => [keyOf(instanceId, seq), content]));
  const conflicts: EventConflict[] = [];
  for (const { event, instanceId, content } of rest) {
    if (instanceId !== '') {
      const legacy = byKey.get(keyOf('', event.seq));
      if (legacy !== undefined && sameContent(legacy, content)) continue;
    }
    const twin = byKey.get(keyOf(instanceId, event.seq));
    if (twin !== undefined && !sameContent(twin, content))
      conflicts.push({ seq: event.seq, instanceId, stored: twin, sent: content });
  }
  return conflicts;
}
