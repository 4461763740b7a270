// Pieces both programs' config schemas are made of (server-schema.ts, client-schema.ts).
// Written once here, they appear inline (or under "definitions") in each generated
// docs/*-config.schema.json. A `default` is what an absent key becomes (ajv useDefaults);
// an object whose keys have defaults defaults to {} so that they are filled in.
import type { JSONSchema } from 'json-schema-to-ts';

const FILE_DESCRIPTION =
  'Every key is optional; an absent key takes its `default` here (docs/config.md lists them, and those ' +
  'set at run time). Unknown keys are errors (a typo must not be silently ignored). Relative paths ' +
  "resolve against the config file's directory.";

/**
 * A config file's schema: a closed object of `properties`, where a `"$schema"` key (editors
 * use it for completion) is also allowed, and ignored.
 */
export function configFile<
  const Id extends string,
  const Title extends string,
  const Properties extends Record<string, JSONSchema>,
>(id: Id, title: Title, properties: Properties) {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: id,
    title,
    description: FILE_DESCRIPTION,
    type: 'object',
    additionalProperties: false,
    properties: { $schema: { type: 'string' }, ...properties },
  } as const;
}

/** The "definitions" both schemas take theirs from (each lists the ones it uses). */
export const DEFINITIONS = {
  path: { type: 'string', minLength: 1, maxLength: 4096 },
  cron: {
    description: 'A 5- or 6-field cron expression, or null to disable.',
    type: ['string', 'null'],
    pattern: '^\\s*\\S+(\\s+\\S+){4,5}\\s*$',
  },
  timezone: {
    description: "IANA time zone name (e.g. Europe/Berlin); null = the host's local time zone.",
    type: ['string', 'null'],
    minLength: 1,
    maxLength: 64,
    pattern: '^[A-Za-z][A-Za-z0-9_+/-]*$',
  },
  proxy: {
    description: 'http(s) proxy URL, or null for none.',
    type: ['string', 'null'],
    pattern: '^https?://',
  },
  log: {
    type: 'object',
    additionalProperties: false,
    properties: {
      level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    },
  },
} as const satisfies Record<string, JSONSchema>;

/** A token in the config itself, or null. */
export const TOKEN = { type: ['string', 'null'], minLength: 1, maxLength: 1024 } as const;

/** A file's path or a public key, or null. */
export const PATH_OR_KEY = { type: ['string', 'null'], minLength: 1, maxLength: 4096 } as const;

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

/** notify.*: what both programs' mail settings share; each adds its own keys to NOTIFY_MAIL. */
export const NOTIFY_SHAPE = {
  type: 'object',
  additionalProperties: false,
  required: ['smtp', 'from', 'to'],
} as const satisfies JSONSchema;

export const NOTIFY_MAIL = {
  smtp: SMTP,
  from: { type: 'string', minLength: 3, maxLength: 320 },
  to: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 3, maxLength: 320 } },
} as const satisfies Record<string, JSONSchema>;

/** notify.events: which of these events are mailed, `defaults` unless set. */
export function mailedEvents<
  const Names extends readonly string[],
  const Defaults extends readonly Names[number][],
>(names: Names, defaults: Defaults) {
  return { type: 'array', maxItems: 16, items: { enum: names }, default: defaults } as const;
}

export const SUBJECT_PREFIX = {
  type: 'string',
  maxLength: 100,
  default: '[patchbay]',
} as const satisfies JSONSchema;
