// Pieces both programs' config schemas are made of (server-schema.ts, client-schema.ts).
// Written once here, they appear inline (or under "definitions") in each generated
// docs/*-config.schema.json. A `default` is what an absent key becomes (ajv useDefaults);
// an object whose keys have defaults defaults to {} so that they are filled in.
import type { JSONSchema } from 'json-schema-to-ts';

export const SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';

export const FILE_DESCRIPTION =
  'Every key is optional; an absent key takes its `default` here (docs/config.md lists them, and those ' +
  'set at run time). Unknown keys are errors (a typo must not be silently ignored). Relative paths ' +
  "resolve against the config file's directory.";

/** The `"$schema"` key editors use for completion; allowed and ignored. */
export const SCHEMA_KEY = { type: 'string' } as const satisfies JSONSchema;

export const PATH = { type: 'string', minLength: 1, maxLength: 4096 } as const satisfies JSONSchema;

export const CRON = {
  description: 'A 5- or 6-field cron expression, or null to disable.',
  type: ['string', 'null'],
  pattern: '^\\s*\\S+(\\s+\\S+){4,5}\\s*$',
} as const satisfies JSONSchema;

export const TIMEZONE = {
  description: "IANA time zone name (e.g. Europe/Berlin); null = the host's local time zone.",
  type: ['string', 'null'],
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z][A-Za-z0-9_+/-]*$',
} as const satisfies JSONSchema;

export const PROXY = {
  description: 'http(s) proxy URL, or null for none.',
  type: ['string', 'null'],
  pattern: '^https?://',
} as const satisfies JSONSchema;

export const LOG = {
  type: 'object',
  additionalProperties: false,
  properties: {
    level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  },
} as const satisfies JSONSchema;

const MiB = 1024 * 1024;

/** A free-space margin in bytes, 64 MiB unless set. */
export const FREE_SPACE_MARGIN = {
  type: 'integer',
  minimum: 0,
  maximum: 1099511627776,
  default: 64 * MiB,
} as const satisfies JSONSchema;

/** notify.smtp: the mail relay, the same for the server's mails and the client's own. */
export const SMTP = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 587 },
    secure: { type: 'boolean', default: false },
    auth: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['user', 'pass'],
      properties: {
        user: { type: 'string', maxLength: 1024 },
        pass: { type: 'string', maxLength: 1024 },
      },
      default: null,
    },
    requireTLS: { type: 'boolean', default: false },
    tls: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1, maxLength: 4096 },
        servername: { type: 'string', minLength: 1, maxLength: 255 },
        minVersion: { enum: ['TLSv1.2', 'TLSv1.3'] },
      },
    },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 30 },
  },
} as const satisfies JSONSchema;

/** notify.from and notify.to: who mails and who is mailed. */
export const MAIL_ADDRESSES = {
  from: { type: 'string', minLength: 3, maxLength: 320 },
  to: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 3, maxLength: 320 } },
} as const satisfies Record<string, JSONSchema>;

export const SUBJECT_PREFIX = {
  type: 'string',
  maxLength: 100,
  default: '[patchbay]',
} as const satisfies JSONSchema;
