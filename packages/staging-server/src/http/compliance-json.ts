// The JSON of a compliance row made a patch at a time (reports/compliance-export.ts), in
// parts for json-stream.ts: the text JSON.stringify makes of buildCompliance's row, the
// same fields in the same order. (A host id that is an integer, "42", would come first in
// JSON.stringify of an object; the parsed object is the same either way.)
import type { ComplianceRowText } from '../reports/compliance-export.js';

export function* complianceRowJson({ counts, hosts, via }: ComplianceRowText): Generator<string> {
  yield JSON.stringify(counts).slice(0, -1) + ',"hosts":{';
  yield* hosts;
  yield via === undefined ? '}}' : '},"via":' + JSON.stringify(via) + '}';
}
