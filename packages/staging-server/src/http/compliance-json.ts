// The JSON of a compliance row with its `hosts` map, in parts (json-stream.ts), for the
// per-patch compliance report streamed a patch at a time.
import type { ComplianceRow } from '../reports/compliance.js';
import { jsonObjectParts } from './json-stream.js';

/**
 * A compliance row's JSON in parts, its `hosts` map a part per few thousand hosts: the
 * text JSON.stringify(row) makes, without a string of it all (2.3 MB a patch at 100,000 hosts).
 */
export function* complianceRowJson(row: ComplianceRow): Generator<string> {
  const { hosts, via, ...fields } = row;
  yield JSON.stringify(fields).slice(0, -1) + ',"hosts":';
  yield* jsonObjectParts(Object.entries(hosts));
  if (via !== undefined) yield ',"via":' + JSON.stringify(via);
  yield '}';
}
