// JSON answers too large to build whole (the fleet exports: tens of MB at 100,000 hosts),
// written as they are read: the text in parts, a page of the store's rows at a time, so
// memory holds one page and the first bytes leave before the last row is read.
//
// An error after the first part has gone cannot become an error status: Fastify then logs
// it and destroys the connection (lib/reply.js sendStream), so the client sees a body cut
// short — never a truncated answer that parses. The first part is made only once the first
// page is read, so an error reading it is still an ordinary error answer (503, 500).
import type { FastifyReply } from 'fastify';
import { textStream } from './text-stream.js';

type Pages<T> = AsyncIterable<Iterable<T>> | Iterable<Iterable<T>>;

/** One item's JSON text, whole or in parts (an item with a large nested map). */
export type JsonEncoder<T> = (item: T) => string | Iterable<string>;

/**
 * A JSON array of every item of every page, in order: one part per page (its items
 * joined), or more where `encode` gives an item in parts. `encode` defaults to JSON.stringify.
 */
export async function* jsonArrayParts<T>(
  pages: Pages<T>,
  encode: JsonEncoder<T> = JSON.stringify,
): AsyncGenerator<string> {
  let open = '[';
  for await (const page of pages) {
    let text = '';
    for (const item of page) {
      const parts = encode(item);
      if (typeof parts === 'string') {
        text += open + parts;
        open = ',';
        continue;
      }
      text += open;
      open = ',';
      // a large item leaves in its own parts; what was gathered before it goes first
      for (const part of parts) {
        text += part;
        if (text.length >= PART_SIZE) {
          yield text;
          text = '';
        }
      }
    }
    if (text !== '') yield text;
  }
  yield open === '[' ? '[]' : ']';
}

/** Text gathered before a part of a large item is handed on. */
const PART_SIZE = 64 * 1024;

/** Send the parts as the JSON answer (status 200 unless set), streamed (text-stream.ts). */
export function sendJsonStream(reply: FastifyReply, parts: AsyncIterable<string>): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(textStream(parts));
}
