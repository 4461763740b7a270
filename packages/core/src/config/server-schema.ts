// patchbay-server's config file: its JSON Schema, defaults included, and the TypeScript
// types derived from it. The build writes it to docs/server-config.schema.json.
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import * as part from './schema-parts.js';

const NOTIFY = {
  ...part.NOTIFY_SHAPE,
  properties: {
    ...part.NOTIFY_MAIL,
    events: part.mailedEvents(
      ['patch-available', 'downloaded', 'installed', 'failed', 'uninstalled'],
      ['patch-available', 'downloaded', 'installed', 'failed'],
    ),
    digest: {
      enum: ['off', 'sync', 'hourly'],
      description:
        'off: one mail per event; sync: one mail per sync (server events) and per report batch; hourly: one mail per hour',
      default: 'off',
    },
    retries: { type: 'integer', minimum: 0, maximum: 100, default: 5 },
    subjectPrefix: part.SUBJECT_PREFIX,
  },
} as const satisfies JSONSchema;

const AUTH = {
  type: 'object',
  additionalProperties: false,
  properties: {
    adminToken: { ...part.TOKEN, default: null },
    adminTokenFile: { ...part.PATH_OR_KEY, default: null },
    // No default: absent, the loader opens status only on a loopback listener.
    publicStatus: { type: 'boolean' },
    reportTokens: { enum: ['required', 'optional'], default: 'required' },
  },
  default: {},
} as const satisfies JSONSchema;

const ROLLUP = {
  description:
    "Tiered mirrors: forward this server's client reports to a parent staging server (docs/topologies.md). Absent: no rollup.",
  type: 'object',
  additionalProperties: false,
  required: ['url', 'branchId'],
  properties: {
    url: {
      description: "The parent staging server's base URL.",
      type: 'string',
      pattern: '^https?://',
      maxLength: 4096,
    },
    branchId: {
      description:
        "This branch's id at the parent (patchbay-server enroll --branch BRANCHID there issues its branch token).",
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$',
    },
    token: { ...part.TOKEN, default: null },
    tokenFile: { ...part.PATH_OR_KEY, default: null },
    schedule: { $ref: '#/definitions/cron', default: '*/15 * * * *' },
    intervalSeconds: { type: ['integer', 'null'], minimum: 1, maximum: 86400, default: 60 },
  },
} as const satisfies JSONSchema;

export const SERVER_CONFIG_SCHEMA = {
  ...part.configFile('urn:patchbay:schema:server-config', 'patchbay-server config file', {
    listen: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255, default: '0.0.0.0' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        tls: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: { $ref: '#/definitions/path' }, key: { $ref: '#/definitions/path' } },
          default: null,
        },
        allowedHosts: {
          type: 'array',
          items: {
            type: 'string',
            minLength: 1,
            maxLength: 254,
            pattern: '^\\.?[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*\\.?$',
          },
        },
        requestTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
      },
      default: {},
    },
    dataDir: { $ref: '#/definitions/path', default: 'data/staging-server' },
    upstream: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // No default here: absent, the loader points it at the bundled sample feed.
        url: { type: 'string', minLength: 1, maxLength: 4096 },
        publicKey: { ...part.PATH_OR_KEY, default: null },
        trustedRoot: {
          description:
            "trust v2: the upstream TUF repository's root metadata file (a root.json); when set, url is a TUF repository (metadata/ and targets/ below it)",
          ...part.PATH_OR_KEY,
        },
        allowedOrigins: {
          description:
            "origins (scheme://host[:port], http or https) patch files may come from besides the feed's own; redirects may not leave them either (docs/security.md)",
          type: 'array',
          maxItems: 100,
          items: {
            type: 'string',
            minLength: 1,
            maxLength: 2048,
            pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\\s]+/?$',
          },
          default: [],
        },
        proxy: { $ref: '#/definitions/proxy', default: null },
        concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
        retries: { type: 'integer', minimum: 0, maximum: 100, default: 4 },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 30 },
        maxFeedBytes: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 67108864 },
      },
      default: {},
    },
    mirror: {
      type: 'object',
      additionalProperties: false,
      properties: {
        products: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: {
              id: { $ref: '#/definitions/safeId' },
              releases: {
                type: 'array',
                maxItems: 1000,
                items: { type: 'string', minLength: 1, maxLength: 64 },
              },
            },
          },
          maxItems: 1000,
        },
      },
      // The default is the whole object: `"mirror": {}` in a file means mirror everything.
      default: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
    },
    schedule: {
      type: 'object',
      additionalProperties: false,
      properties: {
        sync: { $ref: '#/definitions/cron', default: '0 * * * *' },
        timezone: { $ref: '#/definitions/timezone', default: null },
        prune: {
          $ref: '#/definitions/cron',
          description: 'when events older than reports.retentionDays are deleted',
          default: '30 3 * * *',
        },
        gc: {
          $ref: '#/definitions/cron',
          description: 'when blobs no longer named by a protected catalog are removed',
          default: '45 3 * * *',
        },
      },
      default: {},
    },
    database: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: {
          description:
            'null: the reports, tokens and sync state are SQLite files in dataDir (one server). A postgres:// URL: they are in that PostgreSQL database, which several servers (replicas) may share (docs/scale.md); the password may come from PGPASSWORD or ~/.pgpass instead of the URL',
          type: ['string', 'null'],
          pattern: '^postgres(ql)?://',
          maxLength: 4096,
          default: null,
        },
        poolSize: { type: 'integer', minimum: 2, maximum: 200, default: 10 },
      },
      default: {},
    },
    cluster: {
      type: 'object',
      additionalProperties: false,
      properties: {
        leaderRetrySeconds: {
          description:
            'with database.url: how often a replica that is not the leader tries to become it (sync, gc, rollup, mail and report retention run on the leader only)',
          type: 'integer',
          minimum: 1,
          maximum: 300,
          default: 5,
        },
      },
      default: {},
    },
    storage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        gcProtectionDays: { type: 'number', minimum: 0, maximum: 3650, default: 7 },
        freeSpaceMarginBytes: part.FREE_SPACE_MARGIN,
      },
      default: {},
    },
    reports: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxBodyBytes: { type: 'integer', minimum: 1024, maximum: 67108864, default: 1048576 },
        staleAfterHours: { type: 'number', exclusiveMinimum: 0, maximum: 87600, default: 24 },
        historyLimit: { type: 'integer', minimum: 1, maximum: 1000000, default: 1000 },
        retentionDays: { type: 'integer', minimum: 1, maximum: 36500, default: 365 },
        rateLimitPerMinute: { type: 'integer', minimum: 1, maximum: 100000, default: 60 },
        maxClockSkewSeconds: {
          type: 'integer',
          minimum: 0,
          maximum: 86400,
          description:
            "A report's reportedAt and its events' at may be this far ahead of the server's clock; later is refused (400).",
          default: 300,
        },
        maxEventsPerReport: {
          type: 'integer',
          minimum: 1,
          maximum: 10000,
          description: 'Events in one report; more is refused (413). Clients send at most 500 per report.',
          default: 1000,
        },
        hostEventsPerDay: {
          type: 'integer',
          minimum: 1,
          maximum: 100000000,
          description:
            'New events one host may report per 24 hours; a report beyond it is refused (429, Retry-After) and the client sends it again later.',
          default: 10000,
        },
        maxEventsPerRollup: {
          type: 'integer',
          minimum: 1,
          maximum: 1000000,
          description: 'Events in one branch rollup request; more is refused (413).',
          default: 10000,
        },
        rollupsPerMinute: {
          type: 'integer',
          minimum: 1,
          maximum: 100000,
          description: 'Rollup PUTs accepted per branch per minute; more get 429.',
          default: 30,
        },
      },
      default: {},
    },
    log: { $ref: '#/definitions/log', default: {} },
    notify: NOTIFY,
    auth: AUTH,
    rollup: ROLLUP,
    signing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keyFile: { ...part.PATH_OR_KEY, default: null },
        expiryDays: { type: 'number', exclusiveMinimum: 0, maximum: 365, default: 7 },
        resignBeforeHours: { type: 'number', exclusiveMinimum: 0, maximum: 8760, default: 24 },
        onlineKeyFile: {
          description:
            "trust v2: Ed25519 PKCS#8 PEM key (mode 0600) signing this server's TUF snapshot and timestamp; null = <dataDir>/keys/online.key",
          ...part.PATH_OR_KEY,
        },
        snapshotExpiryDays: {
          description: "trust v2: the server's snapshot expires this long after signing (default 7)",
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 365,
        },
        timestampExpiryHours: {
          description:
            "trust v2: the server's timestamp expires this long after signing and is re-signed before half of it has passed (default 24)",
          type: 'number',
          exclusiveMinimum: 0,
          maximum: 8760,
        },
        targets: {
          description:
            'trust v2: who signs targets. publisher (default): a TUF upstream verified from upstream.trustedRoot. mirror: the upstream is a patchbay-feed/1 and this server signs targets with its online key (a compromised server then controls hosts; status and doctor warn)',
          enum: ['publisher', 'mirror'],
        },
        root: {
          description:
            "with signing.targets mirror: the newest version of the organisation's root metadata, listing the online key for targets, snapshot and timestamp; older versions are <N>.root.json in the same directory",
          ...part.PATH_OR_KEY,
        },
      },
      default: {},
    },
  }),
  definitions: {
    path: part.DEFINITIONS.path,
    safeId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    proxy: part.DEFINITIONS.proxy,
    cron: part.DEFINITIONS.cron,
    log: part.DEFINITIONS.log,
    timezone: part.DEFINITIONS.timezone,
  },
} as const satisfies JSONSchema;

type Loaded = FromSchema<typeof SERVER_CONFIG_SCHEMA>;

/**
 * The staging server's config as loadServerConfig returns it: every default filled in,
 * paths absolute, `upstream.url` a normalised absolute URL.
 */
export type ServerConfig = Omit<Loaded, '$schema' | 'upstream'> & {
  upstream: Loaded['upstream'] & { url: string };
};

export type TlsConfig = NonNullable<ServerConfig['listen']['tls']>;

/** notify.* as a file may write it (what is absent takes the schema's default). */
export type NotifyConfig = FromSchema<typeof NOTIFY, { keepDefaultedPropertiesOptional: true }>;

/** auth.* as a file may write it; publicStatus defaults by listener. */
export type AuthConfig = FromSchema<typeof AUTH, { keepDefaultedPropertiesOptional: true }>;

/** rollup.* — a branch forwarding its hosts' reports to its parent (docs/topologies.md). */
export type RollupConfig = NonNullable<ServerConfig['rollup']>;
