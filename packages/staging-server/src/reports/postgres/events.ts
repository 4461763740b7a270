// A report's events in an ingest transaction: each stored once per (hostId, instanceId,
// seq), in one statement for the whole report. An event not stored is a resend, or a
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
// Ordered by the report's order, so ids (the history's tie-break) follow it.
const INSERT_EVENTS = prepared(
  'insert-events',
  `
INSERT INTO reports.events (host_id, instance_id, seq, type, patch_id, at, outcome, message, output, received_at)
SELECT $1, e.instance_id, e.seq, e.type, e.patch_id, e.at, e.outcome, e.message, e.output, $2
FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
  WITH ORDINALITY AS e (instance_id, seq, type, patch_id, at, outcome, message, output, n)
WHERE e.instance_id = '' OR NOT EXISTS (
  SELECT 1 FROM reports.events l
  WHERE l.host_id = $1 AND l.instance_id = '' AND l.seq = e.seq
    AND (l.type, l.patch_id, l.at, l.outcome, l.message, l.output)
      IS NOT DISTINCT FROM (e.type, e.patch_id, e.at, e.outcome, e.message, e.output))
ORDER BY e.n
ON CONFLICT (host_id, instance_id, seq) DO NOTHING
RETURNING instance_id AS "instanceId", seq`,
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

/** Add the report's events once per key: those newly stored, and those whose key holds another event. */
export async function addEvents(
  sql: Sql,
  report: ClientReport,
  receivedAt: string,
): Promise<{ newEvents: ReportEvent[]; conflicts: EventConflict[] }> {
  if (report.events.length === 0) return { newEvents: [], conflicts: [] };
  const sent = sentEvents(report);
  const column = <T>(pick: (s: SentEvent) => T) => sent.map(pick);
  const inserted = await sql.rows<{ instanceId: string; seq: number }>(INSERT_EVENTS, [
    report.hostId,
    receivedAt,
    column((s) => s.instanceId),
    column((s) => s.event.seq),
    column((s) => s.content.type),
    column((s) => s.content.patchId),
    column((s) => s.content.at),
    column((s) => s.content.outcome),
    column((s) => s.content.message),
    column((s) => s.content.output),
  ]);
  const fresh = new Set(inserted.map((row) => keyOf(row.instanceId, row.seq)));
  const newEvents: ReportEvent[] = [];
  const rest: SentEvent[] = [];
  for (const s of sent) {
    // The first event under a key is the one stored when the report holds the key twice.
    if (fresh.delete(keyOf(s.instanceId, s.event.seq))) newEvents.push(s.event);
    else rest.push(s);
  }
  return { newEvents, conflicts: rest.length === 0 ? [] : await conflictsOf(sql, report.hostId, rest) };
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
