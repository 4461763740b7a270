// A JSON body nested deeper than any document this API takes is refused before validation:
// deep enough nesting overflows the stack of the recursive code that reads it later (ajv,
// JSON.stringify when a report is stored), which answered 500 (issue 14). The walk here is
// iterative, so it cannot overflow itself.
import type { FastifyInstance } from 'fastify';
import { HttpErrors } from './errors.js';

/** Far deeper than any report, rollup or admin body (a report is about 4 levels deep). */
export const MAX_JSON_DEPTH = 64;

/** The nesting depth of a parsed JSON value, or MAX_JSON_DEPTH + 1 as soon as it exceeds it. */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    const here = depth + 1;
    if (here > limit) return limit + 1;
    if (here > deepest) deepest = here;
    for (const child of Array.isArray(node) ? node : Object.values(node as object)) stack.push([child, here]);
  }
  return deepest;
}

export function refuseDeepJson(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null || typeof request.body !== 'object') return;
    if (jsonDepth(request.body) > MAX_JSON_DEPTH) {
      throw HttpErrors.BODY_TOO_DEEP(MAX_JSON_DEPTH);
    }
  });
}
