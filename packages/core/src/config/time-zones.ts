// Time zone names pass the schemas' pattern; whether the zone exists is a question for the
// runtime's ICU, asked once the config is loaded.
import { configError } from './config-error.js';

/** True when the runtime's ICU knows this IANA time zone. */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Each [key, value]: a string value must name a known zone, else PB_ERR_CONFIG naming the key. */
export function assertTimeZones(keys: readonly [string, unknown][]): void {
  for (const [key, value] of keys) {
    if (typeof value === 'string' && !isKnownTimeZone(value)) {
      throw configError('config', null, key, `${key} "${value}" is not a known IANA time zone`);
    }
  }
}
