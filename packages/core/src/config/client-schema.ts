// patchbay-client's config file: its JSON Schema, defaults included, and the TypeScript
// types derived from it. The build writes it to docs/client-config.schema.json.
// Removing a key is an edit here (its type follows) and a row in docs/config.md.
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import * as part from './schema-parts.js';

const NOTIFY = {
  description:
    "The client's own mails about its events (downloaded, installed, uninstalled, failed); meant for direct mode, where no staging server mails for it.",
  ...part.NOTIFY_SHAPE,
  properties: {
    ...part.NOTIFY_MAIL,
    events: part.mailedEvents(
      ['downloaded', 'installed', 'uninstalled', 'failed'],
      ['downloaded', 'installed', 'failed'],
    ),
    subjectPrefix: part.SUBJECT_PREFIX,
  },
} as const satisfies JSONSchema;

const TRUST = {
  type: 'object',
  additionalProperties: false,
  properties: {
    root: {
      description:
        'Trust v2: the TUF root metadata file shipped with the deployment (relative to the config file); hosts then trust only metadata that chains to it.',
      ...part.PATH_OR_KEY,
    },
    // Removed with trust v1, kept in the schema so the client refuses them by name (removed-trust-v1.ts).
    legacyMirrorKey: {
      description: 'Removed with trust v1: the client refuses to start when it is set (use trust.root).',
      type: 'boolean',
    },
    trustOnFirstUse: {
      description:
        'Trust v2 without trust.root: take 1.root.json from the first staging server that answers and keep it. Explicit opt-in; check and doctor say so.',
      type: 'boolean',
    },
    mirrorKey: {
      description: 'Removed with trust v1: the client refuses to start when it is set (use trust.root).',
      ...part.PATH_OR_KEY,
      default: null,
    },
    ca: { ...part.PATH_OR_KEY, default: null },
    feedKey: {
      description:
        'Removed with trust v1: the client refuses to start when it is set (make the feed a TUF repository with patchbay-publish import-feed).',
      ...part.PATH_OR_KEY,
    },
  },
  default: {},
} as const satisfies JSONSchema;

const POLICY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    autoInstall: { enum: ['none', 'critical'], default: 'critical' },
    maintenanceWindows: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['day', 'start', 'durationMinutes'],
        properties: {
          day: {
            oneOf: [
              { $ref: '#/definitions/weekday' },
              { type: 'array', minItems: 1, maxItems: 7, items: { $ref: '#/definitions/weekday' } },
            ],
          },
          start: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
          durationMinutes: { type: 'integer', minimum: 1, maximum: 10080 },
          timezone: { $ref: '#/definitions/timezone' },
        },
      },
      default: [],
    },
    preInstallCheck: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['command'],
      properties: {
        command: { $ref: '#/definitions/argv' },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
      },
      default: null,
    },
    reboot: { enum: ['never', 'allowed'], default: 'never' },
    // No default here: absent, the loader sets the platform's restart command.
    rebootCommand: { $ref: '#/definitions/argv' },
  },
  default: {},
} as const satisfies JSONSchema;

export const CLIENT_CONFIG_SCHEMA = {
  ...part.configFile('urn:patchbay:schema:client-config', 'patchbay-client config file', {
    server: {
      description:
        'One URL or a list tried in order. An http(s) URL is a staging server (its base URL); a file: URL or { "repository": URL } is a publisher\'s TUF repository read directly (direct mode: reports stay on the host). See docs/topologies.md.',
      type: ['string', 'array'],
      pattern: '^(https?|file):',
      maxLength: 4096,
      minItems: 1,
      maxItems: 16,
      items: {
        description:
          'A URL, or { "repository": URL }: a publisher\'s TUF repository (metadata/, targets/ as patchbay-publish writes them) over http(s) or file:. The string and object keywords each apply to their own type only.',
        type: ['string', 'object'],
        pattern: '^(https?|file):',
        maxLength: 4096,
        additionalProperties: false,
        required: ['repository'],
        properties: { repository: { type: 'string', pattern: '^(https?|file):', maxLength: 4096 } },
      },
      default: ['http://127.0.0.1:8080'],
    },
    // No defaults for these two: absent, the loader takes them from the OS host name.
    hostId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$' },
    hostname: { type: 'string', minLength: 1, maxLength: 255 },
    dataDir: { $ref: '#/definitions/path', default: 'data/client' },
    products: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'release', 'installDir'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
          release: { type: 'string', minLength: 1, maxLength: 64 },
          installDir: { $ref: '#/definitions/path' },
        },
      },
      default: [{ id: 'arcserve-backup', release: '19.0', installDir: '/opt/arcserve' }],
    },
    schedule: {
      type: 'object',
      additionalProperties: false,
      properties: {
        check: { $ref: '#/definitions/cron', default: '0 */4 * * *' },
        install: { $ref: '#/definitions/cron', default: '0 2 * * 6' },
        intervalSeconds: { type: ['integer', 'null'], minimum: 1, maximum: 86400, default: null },
        download: { $ref: '#/definitions/cron', default: null },
        timezone: { $ref: '#/definitions/timezone', default: null },
        jitterSeconds: { type: 'integer', minimum: 0, maximum: 86400, default: 300 },
      },
      default: {},
    },
    policy: POLICY,
    trust: TRUST,
    token: { ...part.TOKEN, default: null },
    tokenFile: { ...part.PATH_OR_KEY, default: null },
    proxy: { ...part.DEFINITIONS.proxy, default: null },
    notify: NOTIFY,
    retries: { type: 'integer', minimum: 0, maximum: 100, default: 4 },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 30 },
    cache: {
      type: 'object',
      additionalProperties: false,
      properties: {
        prune: { type: 'boolean', default: true },
        freeSpaceMarginBytes: part.FREE_SPACE_MARGIN,
      },
      default: {},
    },
    log: { ...part.DEFINITIONS.log, default: {} },
  }),
  definitions: {
    path: part.DEFINITIONS.path,
    cron: part.DEFINITIONS.cron,
    timezone: part.DEFINITIONS.timezone,
    argv: { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string', maxLength: 4096 } },
    weekday: { enum: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
  },
} as const satisfies JSONSchema;

type Loaded = FromSchema<typeof CLIENT_CONFIG_SCHEMA>;

/**
 * The client's config as loadClientConfig returns it: every default filled in (those the
 * loader sets at run time too), paths absolute, `server` a list.
 */
export type ClientConfig = Omit<Loaded, '$schema' | 'server' | 'hostId' | 'hostname' | 'policy'> & {
  /** a staging server's base URL; a `file:` URL or `{ repository }` is a publisher's TUF repository */
  server: (string | { repository: string })[];
  hostId: string;
  hostname: string;
  policy: ClientPolicy;
};

export type ClientPolicy = Loaded['policy'] & { rebootCommand: string[] };
export type ClientProduct = ClientConfig['products'][number];
export type ClientSchedule = ClientConfig['schedule'];
/** A weekly window in which scheduled installs may start. */
export type MaintenanceWindow = ClientPolicy['maintenanceWindows'][number];
export type Weekday = Extract<MaintenanceWindow['day'], string>;
/** notify.* of the client: the server's notify shape without digest and retries. */
export type ClientNotifyConfig = FromSchema<typeof NOTIFY, { keepDefaultedPropertiesOptional: true }>;
