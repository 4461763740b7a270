// How a bad config is reported: PatchbayError PB_ERR_CONFIG naming where (the file, or
// "command line") and the key, in words a person can act on (CLIs exit 2).
import type { ErrorObject } from 'ajv';
import { ErrorCodes, PatchbayError } from '../errors.js';
import { pickIssue } from '../schema-errors.js';

export function configError(
  source: string,
  file: string | null,
  key: string,
  message: string,
  cause?: unknown,
): PatchbayError {
  return new PatchbayError(ErrorCodes.CONFIG, `${source}: ${message}`, { file, key }, { cause });
}

/** /products/0/installDir -> products[0].installDir */
function keyName(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

/** The schema's verdict on `data` as one error: the key, the rule and the value. */
export function schemaError(
  errors: readonly ErrorObject[],
  data: unknown,
  source: string,
  file: string | null,
): PatchbayError {
  const issue = pickIssue(errors, data);
  const key = keyName(issue.path);
  if (issue.unknownKey !== undefined) {
    return configError(source, file, key, `unknown key "${issue.unknownKey}" at ${issue.path}`);
  }
  const got = issue.got !== undefined ? ` (got ${issue.got})` : '';
  return configError(source, file, key, `${key === '' ? 'the config' : key} ${issue.message}${got}`);
}
