// STUB — implemented by the core-schema helper.
import type { ClientReport } from './types.js';

/** JSON Schema of PUT /v1/clients/:hostId/report bodies (used by fastify and by tests). */
export const REPORT_SCHEMA: Record<string, unknown> = {};

/** Validate a report object; throws PatchbayError(FEED_SCHEMA-like, naming the field). */
export function validateReport(_value: unknown): ClientReport {
  throw new Error('not implemented');
}
