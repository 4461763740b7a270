// Config for both programs: one JSON Schema per program (docs/*-config.schema.json,
// also what docs/config.md describes), one loader, defaults in one place.
// Layers, later wins: defaults, the config file, command-line overrides. Each layer
// is validated on its own, so an error names the file (or the command line) it is in,
// and its relative paths are resolved against its own base before merging.
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { ErrorCodes, PatchbayError } from './errors.js';
import { loadPrecompiledValidator, type PrecompiledSchema } from './precompiled.js';
import { createAjv, pickIssue } from './schema-errors.js';

export const SERVER_CONFIG_SCHEMA_PATH: string = fileURLToPath(
  new URL('../../../docs/server-config.schema.json', import.meta.url),
);
export const CLIENT_CONFIG_SCHEMA_PATH: string = fileURLToPath(
  new URL('../../../docs/client-config.schema.json', import.meta.url),
);
/** The bundled sample feed directory, the server's default upstream. */
export const SAMPLE_FEED_URL: string = new URL('../../sample-feed/feed/', import.meta.url).href;

export interface TlsConfig {
  cert: string;
  key: string;
}

/** notify.* — accepted and validated now, used by later issues. */
export interface NotifyConfig {
  smtp?: {
    host?: string;
    port?: number;
    secure?: boolean;
    auth?: { user: string; pass: string } | null;
    requireTLS?: boolean;
    timeoutSeconds?: number;
    /** the TLS of STARTTLS (or of `secure`): a private CA, the certificate's name, the oldest version */
    tls?: { ca?: string; servername?: string; minVersion?: 'TLSv1.2' | 'TLSv1.3' } | null;
  };
  from?: string;
  to?: string[];
  events?: string[];
  /** off: a mail per event; sync: one per sync / report batch; hourly: one per hour */
  digest?: 'off' | 'sync' | 'hourly';
  /** attempts after the first when the SMTP server fails */
  retries?: number;
  subjectPrefix?: string;
}

/** auth.* — accepted and validated now; publicStatus defaults by listener. */
export interface AuthConfig {
  adminToken?: string | null;
  adminTokenFile?: string | null;
  publicStatus?: boolean;
  /** required (default): a report needs the host's own token; optional: a token, when sent, must be the host's */
  reportTokens?: 'required' | 'optional';
}

export interface ServerConfig {
  listen: {
    host: string;
    port: number;
    tls?: TlsConfig | null;
    requestTimeoutSeconds: number;
    /** extra names admin and status routes answer to (auth/same-origin.ts); absent = [] */
    allowedHosts?: string[];
  };
  /** the mirror's catalog signing key (CONTRACT §5) */
  signing: {
    /** absolute after loading; null = <dataDir>/keys/mirror.key */
    keyFile: string | null;
    /** a published catalog's expiresAt is this far after its signing */
    expiryDays: number;
    /** the catalog is re-signed (new expiresAt) this long before it expires, even with no new patches */
    resignBeforeHours: number;
    /**
     * trust v2: the online key that signs this server's TUF snapshot and timestamp (absolute after
     * loading); absent or null = <dataDir>/keys/online.key
     */
    onlineKeyFile?: string | null;
    /** trust v2: the server's snapshot expires this long after signing (absent = 7) */
    snapshotExpiryDays?: number;
    /** trust v2: the server's timestamp expires this long after signing, re-signed at half of it (absent = 24) */
    timestampExpiryHours?: number;
    /**
     * trust v2: who signs the targets roles hosts verify. "publisher" (absent): a TUF upstream
     * verified from upstream.trustedRoot. "mirror": the upstream is a patchbay-feed/1 and this
     * server signs targets and the product roles with its online key (a compromised server then
     * controls what hosts run: /v1/status, the status page and the client's doctor warn)
     */
    targets?: 'publisher' | 'mirror';
    /**
     * with targets "mirror": the newest version of the root the organisation made offline
     * (absolute after loading); its older versions are `<N>.root.json` in the same directory
     */
    root?: string | null;
  };
  /** absolute after loading */
  dataDir: string;
  upstream: {
    /** absolute URL after loading (a bare path in the file is resolved against the config file's directory) */
    url: string;
    publicKey: string | null;
    /**
     * trust v2: the upstream's TUF root metadata file (absolute after loading); when set, `url` is
     * a TUF repository (its metadata/ and targets/ below it) verified from this root
     */
    trustedRoot?: string | null;
    /**
     * origins (`https://cdn.vendor.example`, normalised by the loader) patch files may come
     * from besides the feed's own; redirects may not leave the feed's origin and these either
     */
    allowedOrigins: string[];
    proxy: string | null;
    concurrency: number;
    /** retries per file on 5xx / connection errors */
    retries: number;
    /** give up on a request that sends no bytes for this long */
    timeoutSeconds: number;
    /** refuse a feed.json larger than this */
    maxFeedBytes: number;
  };
  /** absent products = mirror everything */
  mirror: { products?: { id: string; releases?: string[] }[] };
  /** timezone: IANA name for the cron expressions, null = local time */
  schedule: { sync: string | null; prune: string | null; gc: string | null; timezone: string | null };
  /** the content store's housekeeping (docs/reliability.md) */
  storage: {
    /** gc keeps blobs named by any catalog served within this many days (clients may still fetch them) */
    gcProtectionDays: number;
    /** a sync (or import) fails early unless the bytes it will write plus this margin are free */
    freeSpaceMarginBytes: number;
  };
  reports: {
    maxBodyBytes: number;
    staleAfterHours: number;
    historyLimit: number;
    retentionDays: number;
    /** report PUTs per host per minute (429 beyond) */
    rateLimitPerMinute: number;
    /** reportedAt / event `at` may be this far ahead of the server's clock (400 beyond) */
    maxClockSkewSeconds: number;
    /** events in one report (413 beyond) */
    maxEventsPerReport: number;
    /** new events one host may report per 24 hours (429 beyond, until the window frees) */
    hostEventsPerDay: number;
    /** events in one branch rollup request (413 beyond) */
    maxEventsPerRollup: number;
    /** rollup PUTs per branch per minute (429 beyond) */
    rollupsPerMinute: number;
  };
  log: { level: string };
  /** accepted and validated now, used by later issues */
  notify?: NotifyConfig & Record<string, unknown>;
  auth?: AuthConfig & Record<string, unknown>;
  /** tiered mirrors: forward this server's client reports to a parent staging server; absent = off */
  rollup?: RollupConfig;
}

/** rollup.* — a branch forwarding its hosts' reports to its parent (docs/topologies.md). */
export interface RollupConfig {
  /** the parent staging server's base URL (http: or https:) */
  url: string;
  /** this branch's id at the parent: `patchbay-server enroll BRANCHID` there issues its token */
  branchId: string;
  /** the token the parent issued for branchId; or tokenFile (absolute after loading) */
  token: string | null;
  tokenFile: string | null;
  /** cron: a rollup of whatever is pending, also retrying a failed one; null = none */
  schedule: string | null;
  /** new reports are forwarded within this many seconds (a cheap check); null = only on schedule */
  intervalSeconds: number | null;
}

/** notify.* of the client: the server's notify shape without digest and retries. */
export type ClientNotifyConfig = Pick<NotifyConfig, 'smtp' | 'from' | 'to' | 'events' | 'subjectPrefix'>;

export interface ClientProduct {
  id: string;
  release: string;
  installDir: string;
}

export type Weekday = 'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat';

/** A weekly window in which scheduled installs may start. */
export interface MaintenanceWindow {
  day: Weekday | Weekday[];
  /** HH:MM, 24 h, in `timezone` (else schedule.timezone, else local time) */
  start: string;
  durationMinutes: number;
  timezone?: string | null;
}

export interface ClientSchedule {
  check: string | null;
  download: string | null;
  install: string | null;
  /** IANA name for the cron expressions and windows, null = local time */
  timezone: string | null;
  /** each scheduled run waits a random 0..jitterSeconds first, so a fleet does not poll in the same second */
  jitterSeconds: number;
  /** when set, `run` checks every N seconds instead of on schedule.check (simple setups, tests) */
  intervalSeconds: number | null;
}

export interface ClientPolicy {
  autoInstall: 'none' | 'critical';
  /** empty: scheduled installs may start at any time */
  maintenanceWindows: MaintenanceWindow[];
  /** run before each scheduled install; a non-zero exit postpones it */
  preInstallCheck: { command: string[]; timeoutSeconds?: number } | null;
  reboot: 'never' | 'allowed';
  rebootCommand: string[];
}

export interface ClientConfig {
  /**
   * normalised to a list: a staging server's base URL; a `file:` URL or `{ repository }` is a
   * publisher's TUF repository read directly (direct mode)
   */
  server: (string | { repository: string })[];
  hostId: string;
  hostname: string;
  /** absolute after loading */
  dataDir: string;
  products: ClientProduct[];
  schedule: ClientSchedule;
  policy: ClientPolicy;
  /** ca: PEM file of the CA that signs the staging servers' TLS certificates (absolute after loading) */
  trust: {
    /** trust v2: the TUF root metadata file (absolute after loading) */
    root?: string | null;
    /** trust v2 without root: take the first server's 1.root.json (explicit opt-in, said aloud) */
    trustOnFirstUse?: boolean;
    /** removed with trust v1 (legacyMirrorKey, mirrorKey, feedKey): the client refuses to start when set */
    legacyMirrorKey?: boolean;
    mirrorKey: string | null;
    ca?: string | null;
    feedKey?: string | null;
  };
  /** the client's own mails (direct mode: no staging server to mail for it) */
  notify?: ClientNotifyConfig;
  /** report token (CONTRACT §5); or tokenFile, absolute after loading */
  token?: string | null;
  tokenFile?: string | null;
  proxy: string | null;
  retries: number;
  timeoutSeconds: number;
  /** the local blob cache under dataDir/cache */
  cache: {
    /** remove cached files of installed or superseded patches (uninstall fetches again if needed) */
    prune: boolean;
    /** a download fails early unless its bytes plus this margin are free */
    freeSpaceMarginBytes: number;
  };
  log: { level: string };
}

export interface LoadOptions<T> {
  /** --config FILE; when absent, only defaults + overrides */
  file?: string;
  /** CLI flag overrides, applied after the file, validated the same way */
  overrides?: DeepPartial<T>;
  /** base for relative paths when there is no file (default process.cwd()) */
  cwd?: string;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

const MiB = 1024 * 1024;

/** Defaults as written (relative paths resolve against the working directory). */
export const SERVER_CONFIG_DEFAULTS: Readonly<ServerConfig> = deepFreeze({
  listen: { host: '0.0.0.0', port: 8080, tls: null, requestTimeoutSeconds: 30 },
  signing: { keyFile: null, expiryDays: 7, resignBeforeHours: 24 },
  dataDir: 'data/staging-server',
  upstream: {
    url: SAMPLE_FEED_URL,
    publicKey: null,
    allowedOrigins: [],
    proxy: null,
    concurrency: 4,
    retries: 4,
    timeoutSeconds: 30,
    maxFeedBytes: 64 * MiB,
  },
  mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
  schedule: { sync: '0 * * * *', prune: '30 3 * * *', gc: '45 3 * * *', timezone: null },
  storage: { gcProtectionDays: 7, freeSpaceMarginBytes: 64 * MiB },
  reports: {
    maxBodyBytes: 1 * MiB,
    staleAfterHours: 24,
    historyLimit: 1000,
    retentionDays: 365,
    rateLimitPerMinute: 60,
    maxClockSkewSeconds: 300,
    maxEventsPerReport: 1000,
    hostEventsPerDay: 10_000,
    maxEventsPerRollup: 10_000,
    rollupsPerMinute: 30,
  },
  log: { level: 'info' },
});

/** A host id (report URL part, file name part) from the OS host name. */
function defaultHostId(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 253);
  return cleaned === '' ? 'localhost' : cleaned;
}

export const CLIENT_CONFIG_DEFAULTS: Readonly<ClientConfig> = deepFreeze({
  server: ['http://127.0.0.1:8080'],
  hostId: defaultHostId(osHostname()),
  hostname: osHostname() || 'localhost',
  dataDir: 'data/client',
  products: [{ id: 'arcserve-backup', release: '19.0', installDir: '/opt/arcserve' }],
  schedule: {
    check: '0 */4 * * *',
    download: null,
    install: '0 2 * * 6',
    timezone: null,
    jitterSeconds: 300,
    intervalSeconds: null,
  },
  policy: {
    autoInstall: 'critical',
    maintenanceWindows: [],
    preInstallCheck: null,
    reboot: 'never',
    rebootCommand: process.platform === 'win32' ? ['shutdown', '/r', '/t', '60'] : ['shutdown', '-r', '+1'],
  },
  trust: { mirrorKey: null, ca: null },
  token: null,
  tokenFile: null,
  proxy: null,
  retries: 4,
  timeoutSeconds: 30,
  cache: { prune: true, freeSpaceMarginBytes: 64 * MiB },
  log: { level: 'info' },
});

type Json = Record<string, unknown>;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function isPlainObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Copy without undefined values (CLI parsers pass { port: undefined } for absent flags). */
function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (!isPlainObject(value)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = withoutUndefined(v);
  return out;
}

/**
 * Deep merge: objects merge key by key, everything else (arrays, null, scalars)
 * replaces. Keys in `replaceWhole` replace as a unit: `"mirror": {}` must mean
 * "mirror everything", not "the default product filter".
 */
function merge(base: Json, layer: Json, replaceWhole: ReadonlySet<string>, prefix = ''): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(layer)) {
    const path = prefix + key;
    const current = out[key];
    out[key] =
      isPlainObject(value) && isPlainObject(current) && !replaceWhole.has(path)
        ? merge(current, value, replaceWhole, `${path}.`)
        : structuredClone(value);
  }
  return out;
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

function configError(source: string, file: string | null, key: string, message: string, cause?: unknown) {
  return new PatchbayError(ErrorCodes.CONFIG, `${source}: ${message}`, { file, key }, { cause });
}

const validators = new Map<string, ValidateFunction>();

function precompiledName(schemaPath: string): PrecompiledSchema | undefined {
  if (schemaPath === SERVER_CONFIG_SCHEMA_PATH) return 'server-config';
  if (schemaPath === CLIENT_CONFIG_SCHEMA_PATH) return 'client-config';
  return undefined;
}

function validatorFor(schemaPath: string): ValidateFunction {
  let validate = validators.get(schemaPath);
  if (!validate) {
    const text = readFileSync(schemaPath, 'utf8');
    const name = precompiledName(schemaPath);
    validate =
      (name && loadPrecompiledValidator(name, [text])) ||
      createAjv().compile(JSON.parse(text) as Record<string, unknown>);
    validators.set(schemaPath, validate);
  }
  return validate;
}

/** Validate one layer; the error names the key, the rule and the value. */
function validateLayer(schemaPath: string, layer: unknown, source: string, file: string | null): Json {
  if (!isPlainObject(layer)) {
    throw configError(source, file, '', `the config must be a JSON object (got ${JSON.stringify(layer)})`);
  }
  const validate = validatorFor(schemaPath);
  if (validate(layer)) return layer;
  const issue = pickIssue(validate.errors ?? [], layer);
  const key = keyName(issue.path);
  if (issue.unknownKey !== undefined) {
    throw configError(source, file, key, `unknown key "${issue.unknownKey}" at ${issue.path}`);
  }
  const got = issue.got !== undefined ? ` (got ${issue.got})` : '';
  throw configError(source, file, key, `${key === '' ? 'the config' : key} ${issue.message}${got}`);
}

function readConfigFile(file: string, absolute: string): unknown {
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(err);
    throw configError(file, file, '', `cannot read config file ${absolute}: ${reason}`, err);
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw configError(file, file, '', `not valid JSON: ${(err as Error).message}`, err);
  }
}

/** A path value resolved against its layer's base directory. */
function resolvePathAt(layer: Json, keys: readonly string[], base: string): void {
  let node: unknown = layer;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(node)) return;
    node = node[key];
  }
  const last = keys[keys.length - 1] as string;
  if (isPlainObject(node) && typeof node[last] === 'string') node[last] = resolve(base, node[last]);
}

/**
 * upstream.url: an absolute http:, https: or file: URL is kept; anything else is a
 * path. Either way the result names the feed directory and ends in '/', so that
 * 'feed.json' and relative file urls resolve inside it.
 */
export function normaliseFeedUrl(value: string, base: string): string {
  const url = /^(https?|file):/i.test(value) ? new URL(value) : pathToFileURL(resolve(base, value));
  if (url.pathname.endsWith('/feed.json')) url.pathname = url.pathname.slice(0, -'feed.json'.length);
  // A parent staging server's catalog (tiered mirrors) is a document, not a directory.
  if (/\/v1\/catalog\/?$/.test(url.pathname) && /^https?:$/.test(url.protocol)) {
    url.pathname = url.pathname.replace(/\/$/, '');
    return url.href;
  }
  if (!url.pathname.endsWith('/') && url.search === '') url.pathname += '/';
  return url.href;
}

function resolveServerPaths(layer: Json, base: string): Json {
  resolvePathAt(layer, ['dataDir'], base);
  resolvePathAt(layer, ['listen', 'tls', 'cert'], base);
  resolvePathAt(layer, ['listen', 'tls', 'key'], base);
  resolvePathAt(layer, ['auth', 'adminTokenFile'], base);
  resolvePathAt(layer, ['signing', 'keyFile'], base);
  resolvePathAt(layer, ['signing', 'onlineKeyFile'], base);
  resolvePathAt(layer, ['signing', 'root'], base);
  resolvePathAt(layer, ['upstream', 'trustedRoot'], base);
  resolvePathAt(layer, ['rollup', 'tokenFile'], base);
  resolvePathAt(layer, ['notify', 'smtp', 'tls', 'ca'], base);
  const upstream = layer.upstream;
  if (isPlainObject(upstream) && typeof upstream.url === 'string') {
    upstream.url = normaliseFeedUrl(upstream.url, base);
  }
  return layer;
}

function resolveClientPaths(layer: Json, base: string): Json {
  resolvePathAt(layer, ['dataDir'], base);
  resolvePathAt(layer, ['tokenFile'], base);
  resolvePathAt(layer, ['trust', 'ca'], base);
  resolvePathAt(layer, ['trust', 'root'], base);
  resolvePathAt(layer, ['notify', 'smtp', 'tls', 'ca'], base);
  if (Array.isArray(layer.products)) {
    for (const product of layer.products)
      if (isPlainObject(product)) resolvePathAt(product, ['installDir'], base);
  }
  if (typeof layer.server === 'string') layer.server = [layer.server];
  return layer;
}

interface Program {
  schemaPath: string;
  defaults: object;
  resolvePaths: (layer: Json, base: string) => Json;
  replaceWhole: ReadonlySet<string>;
}

function load(program: Program, opts: LoadOptions<unknown>): Json {
  const cwd = resolve(opts.cwd ?? process.cwd());
  let config = program.resolvePaths(structuredClone(program.defaults) as Json, cwd);
  if (opts.file !== undefined) {
    const absolute = isAbsolute(opts.file) ? opts.file : resolve(cwd, opts.file);
    const layer = validateLayer(
      program.schemaPath,
      readConfigFile(opts.file, absolute),
      opts.file,
      opts.file,
    );
    config = merge(config, program.resolvePaths(layer, dirname(absolute)), program.replaceWhole);
  }
  if (opts.overrides !== undefined) {
    const clean = withoutUndefined(structuredClone(opts.overrides));
    const layer = validateLayer(program.schemaPath, clean, 'command line', null);
    config = merge(config, program.resolvePaths(layer, cwd), program.replaceWhole);
  }
  delete config.$schema;
  return config;
}

/** True when the runtime's ICU knows this IANA time zone. */
export function isKnownTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Time zone names pass the schema's pattern; whether the zone exists is a runtime question. */
function assertTimeZones(_config: Json, keys: readonly [string, unknown][]): void {
  for (const [key, value] of keys) {
    if (typeof value === 'string' && !isKnownTimeZone(value)) {
      throw configError('config', null, key, `${key} "${value}" is not a known IANA time zone`);
    }
  }
}

/**
 * An origin as `URL.origin` writes it (`https://cdn.example`, default port dropped, host in
 * lower case), or null when `value` is not one: http(s) only, no credentials, path, query or
 * fragment (a lone trailing `/` is allowed).
 */
export function normaliseOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  if (url.pathname !== '/' || !/^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(value.trim())) return null;
  return url.origin;
}

/** upstream.allowedOrigins made into normalised origins; an entry that is not one is a config error. */
function normaliseAllowedOrigins(config: ServerConfig): void {
  const given: unknown = config.upstream.allowedOrigins;
  if (!Array.isArray(given)) {
    config.upstream.allowedOrigins = [];
    return;
  }
  config.upstream.allowedOrigins = given.map((value: unknown, i) => {
    const origin = typeof value === 'string' ? normaliseOrigin(value) : null;
    if (origin === null) {
      const key = `upstream.allowedOrigins[${i}]`;
      throw configError(
        'config',
        null,
        key,
        `${key} ${JSON.stringify(value)} is not an origin: give scheme://host[:port] with http or https, no path`,
      );
    }
    return origin;
  });
}

/**
 * What the upstream is comes from the config (docs/topologies.md): with upstream.trustedRoot a
 * TUF repository (a parent staging server's is `<server>/v1/tuf/`), without it a feed or a
 * parent's `/v1/catalog`. A URL of the other kind's documented shape is a config error saying
 * which, never a guess made from what the upstream answers.
 */
function assertUpstreamKind(config: ServerConfig): void {
  const trustedRoot = typeof config.upstream.trustedRoot === 'string' && config.upstream.trustedRoot !== '';
  let url: URL;
  try {
    url = new URL(config.upstream.url);
  } catch {
    return;
  }
  if (!/^https?:$/.test(url.protocol)) return;
  if (trustedRoot && /\/v1\/catalog\/?$/.test(url.pathname)) {
    throw configError(
      'config',
      null,
      'upstream.url',
      `upstream.url ${config.upstream.url} is a staging server's catalog, and upstream.trustedRoot makes the ` +
        'upstream a TUF repository: a parent staging server serves its TUF repository at <server>/v1/tuf/',
    );
  }
  if (!trustedRoot && /\/v1\/tuf\/?$/.test(url.pathname)) {
    throw configError(
      'config',
      null,
      'upstream.trustedRoot',
      `upstream.url ${config.upstream.url} is a staging server's TUF repository: set upstream.trustedRoot ` +
        "to the publisher's root metadata file it is verified from",
    );
  }
}

/**
 * signing.targets "mirror" (this server signs targets) takes a patchbay-feed/1 upstream and the
 * organisation's root in signing.root; signing.root means nothing without it.
 */
function assertTargetsSigning(config: ServerConfig): void {
  const mirror = config.signing.targets === 'mirror';
  const hasRoot = typeof config.signing.root === 'string' && config.signing.root !== '';
  const trustedRoot = typeof config.upstream.trustedRoot === 'string' && config.upstream.trustedRoot !== '';
  if (mirror && trustedRoot) {
    throw configError(
      'config',
      null,
      'upstream.trustedRoot',
      'upstream.trustedRoot makes the upstream a TUF repository whose publisher signs targets, and ' +
        'signing.targets "mirror" makes this server sign them from a patchbay-feed/1: set one of them',
    );
  }
  if (mirror && !hasRoot) {
    throw configError(
      'config',
      null,
      'signing.root',
      'signing.targets "mirror" needs signing.root: the root metadata file the organisation made offline ' +
        "(patchbay-publish init --targets-key <online.key.pub> --online-key <online.key.pub>) listing this server's online key for targets, snapshot and timestamp",
    );
  }
  if (!mirror && hasRoot) {
    throw configError(
      'config',
      null,
      'signing.root',
      'signing.root is used only with signing.targets "mirror" (this server signing targets); remove it or set signing.targets',
    );
  }
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Throws PatchbayError PB_ERR_CONFIG naming the key and the reason (CLIs exit 2). */
export function loadServerConfig(opts: LoadOptions<ServerConfig> = {}): ServerConfig {
  const config = load(
    {
      schemaPath: SERVER_CONFIG_SCHEMA_PATH,
      defaults: SERVER_CONFIG_DEFAULTS,
      resolvePaths: resolveServerPaths,
      replaceWhole: new Set(['mirror']),
    },
    opts,
  ) as unknown as ServerConfig;
  if (config.notify) {
    const smtp = config.notify.smtp ?? {};
    config.notify = {
      ...config.notify,
      smtp: { port: 587, secure: false, auth: null, requireTLS: false, timeoutSeconds: 30, ...smtp },
      events: config.notify.events ?? ['patch-available', 'downloaded', 'installed', 'failed'],
      digest: config.notify.digest ?? 'off',
      retries: config.notify.retries ?? 5,
      subjectPrefix: config.notify.subjectPrefix ?? '[patchbay]',
    };
  }
  assertTimeZones(config as unknown as Json, [['schedule.timezone', config.schedule.timezone]]);
  normaliseAllowedOrigins(config);
  assertUpstreamKind(config);
  assertTargetsSigning(config);
  if (config.rollup) {
    // The file layer is partial; the schema requires url and branchId, the rest defaults here.
    const given: Partial<RollupConfig> = config.rollup;
    config.rollup = {
      token: null,
      tokenFile: null,
      schedule: '*/15 * * * *',
      intervalSeconds: 60,
      ...given,
    } as RollupConfig;
  }
  // Read-only endpoints are open by default only when nobody off this machine can reach them.
  // Report tokens are required everywhere: behind a reverse proxy on the same machine every
  // request comes from loopback, so a loopback listener proves nothing about the reporter.
  config.auth = {
    adminToken: null,
    adminTokenFile: null,
    publicStatus: isLoopbackHost(config.listen.host),
    reportTokens: 'required',
    ...config.auth,
  };
  return config;
}

export function loadClientConfig(opts: LoadOptions<ClientConfig> = {}): ClientConfig {
  const config = load(
    {
      schemaPath: CLIENT_CONFIG_SCHEMA_PATH,
      defaults: CLIENT_CONFIG_DEFAULTS,
      resolvePaths: resolveClientPaths,
      replaceWhole: new Set(),
    },
    opts,
  ) as unknown as ClientConfig;
  assertTimeZones(config as unknown as Json, [
    ['schedule.timezone', config.schedule.timezone],
    ...config.policy.maintenanceWindows.map((w, i): [string, unknown] => [
      `policy.maintenanceWindows[${i}].timezone`,
      w.timezone,
    ]),
  ]);
  if (config.notify) {
    config.notify = {
      ...config.notify,
      smtp: {
        port: 587,
        secure: false,
        auth: null,
        requireTLS: false,
        timeoutSeconds: 30,
        ...config.notify.smtp,
      },
      events: config.notify.events ?? ['downloaded', 'installed', 'failed'],
      subjectPrefix: config.notify.subjectPrefix ?? '[patchbay]',
    };
  }
  return config;
}
