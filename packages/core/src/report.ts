// The client report (PUT /v1/clients/:hostId/report, CONTRACT §2). The schema is
// a plain object so fastify can use it as the route's body schema; every array and
// string is bounded so that a hostile body cannot make the server hold gigabytes.
import type { ValidateFunction } from 'ajv';
import { ErrorCodes, PatchbayError } from './errors.js';
import { loadPrecompiledValidator } from './precompiled.js';
import { createAjv, formatIssue, pickIssue } from './schema-errors.js';
import { EVENT_TYPES, PATCH_STATES } from './types.js';
import type { ClientReport } from './types.js';

/** Host ids: a DNS name's length, characters safe in file names and URLs. */
export const HOST_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$';
export const REPORT_MAX_PATCHES = 100_000;
export const REPORT_MAX_EVENTS = 10_000;

const timestamp = { type: 'string', format: 'date-time', maxLength: 64 } as const;
/** A client instance id (a UUID from current clients; any short token is accepted). */
export const INSTANCE_ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$';
/**
 * Characters of installer output an event may carry (the client sends at most about 3 KiB: its
 * command's 1 KiB and the installer log's 2 KiB, installer-log.ts combinedOutput).
 */
export const EVENT_OUTPUT_MAX_CHARS = 4096;
/** Characters of an event's message, and of a patch's reason, a report may carry. */
export const EVENT_MESSAGE_MAX_CHARS = 16_384;
export const PATCH_REASON_MAX_CHARS = 4096;
const patchId = { type: 'string', minLength: 1, maxLength: 64 } as const;

/** JSON Schema of PUT /v1/clients/:hostId/report bodies (used by fastify and by tests). */
export const REPORT_SCHEMA: Record<string, unknown> = {
  $id: 'urn:patchbay:schema:report',
  type: 'object',
  required: ['hostId', 'reportedAt', 'patches', 'events'],
  properties: {
    hostId: { type: 'string', pattern: HOST_ID_PATTERN },
    hostname: { type: 'string', maxLength: 255 },
    daemonVersion: { type: 'string', maxLength: 64 },
    platform: { type: 'string', maxLength: 32 },
    reportedAt: timestamp,
    instanceId: { type: 'string', pattern: INSTANCE_ID_PATTERN },
    pendingReboot: { type: 'boolean' },
    products: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        required: ['id', 'release'],
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 64 },
          release: { type: 'string', minLength: 1, maxLength: 64 },
        },
      },
    },
    patches: {
      type: 'array',
      maxItems: REPORT_MAX_PATCHES,
      items: {
        type: 'object',
        required: ['id', 'state'],
        properties: {
          id: patchId,
          state: { type: 'string', enum: [...PATCH_STATES] },
          since: timestamp,
          reason: { type: 'string', maxLength: PATCH_REASON_MAX_CHARS },
          cached: { type: 'boolean' },
        },
      },
    },
    events: {
      type: 'array',
      maxItems: REPORT_MAX_EVENTS,
      items: {
        type: 'object',
        required: ['seq', 'type', 'at', 'outcome'],
        properties: {
          seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          type: { type: 'string', enum: [...EVENT_TYPES] },
          patchId,
          at: timestamp,
          outcome: { type: 'string', maxLength: 32 },
          message: { type: 'string', maxLength: EVENT_MESSAGE_MAX_CHARS },
          output: { type: 'string', maxLength: EVENT_OUTPUT_MAX_CHARS },
          // a rollup names each event's instance; '' = a daemon that sent none
          instanceId: { type: 'string', pattern: '^([A-Za-z0-9_-]{8,64})?$' },
        },
      },
    },
  },
};

let validator: ValidateFunction | undefined;

/**
 * Validate a report object; throws PatchbayError naming the field, e.g.
 * `report: /events/3/seq must be integer, got "x"`.
 */
export function validateReport(value: unknown, source = 'report'): ClientReport {
  validator ??=
    loadPrecompiledValidator('report', [JSON.stringify(REPORT_SCHEMA)]) ?? createAjv().compile(REPORT_SCHEMA);
  if (!validator(value)) {
    const issue = pickIssue(validator.errors ?? [], value);
    throw new PatchbayError(ErrorCodes.REPORT_INVALID, formatIssue(source, issue, false), {
      source,
      path: issue.path,
      rule: issue.rule,
    });
  }
  return value as ClientReport;
}
