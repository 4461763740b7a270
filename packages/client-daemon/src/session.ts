import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import {
  assertOnlyAdminsCanRead,
  ContentStore,
  ErrorCodes,
  PatchbayError,
  errorMessage,
  createDispatcher,
  createLogger,
  loadClientConfig,
} from '@patchbay/core';
import type { ClientConfig, DeepPartial, Logger } from '@patchbay/core';
import type { Dispatcher } from 'undici';
import { CatalogSource } from './catalog-source.js';
import { Ledger } from './ledger.js';
import { Output } from './output.js';
import { dataPaths } from './paths.js';
import type { DataPaths } from './paths.js';
import { assertNoTrustV1 } from './removed-trust-v1.js';
import { upstreamsFromConfig } from './upstream.js';
import type { Upstream } from './upstream.js';

export interface GlobalFlags {
  config?: string;
  server?: string[];
  dataDir?: string;
  json: boolean;
}

/** Everything a command works with, built once from the flags and the config file. */
export interface Session {
  config: ClientConfig;
  configFile?: string;
  paths: DataPaths;
  logger: Logger;
  dispatcher: Dispatcher;
  store: ContentStore;
  /** the configured servers in failover order, each of the kind its entry says */
  upstreams: readonly Upstream[];
  /** the verified catalog, from TUF metadata that chains to trust.root */
  catalogSource: CatalogSource;
  out: Output;
  /** report token from config `token` or `tokenFile` */
  token?: string;
  /** set when a staging server refused this host's report (401/403): the reason; the command exits 1 */
  reportRefused?: string;
  /** fires when the daemon is asked to stop: a transfer in flight ends (its partial kept) */
  stopSignal?: AbortSignal;
  openLedger(): Promise<Ledger>;
  close(): Promise<void>;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** One-shot commands stay quiet below warn unless the config asks for debug/trace. */
function commandLogLevel(configured: string, command: string): string {
  if (command === 'run') return configured;
  return LEVELS.indexOf(configured) >= LEVELS.indexOf('warn') ||
    configured === 'debug' ||
    configured === 'trace'
    ? configured
    : 'warn';
}

/** What a test may put in place of the real thing (the CLI passes none). */
export interface SessionDeps {
  /** clock for the offline expiry of kept trust v2 metadata */
  now?: () => Date;
  /** whose rules keep the token file private: mode bits, or Windows' ACL (default process.platform) */
  platform?: NodeJS.Platform;
}

export function createSession(flags: GlobalFlags, command: string, deps: SessionDeps = {}): Session {
  const overrides: DeepPartial<ClientConfig> = {};
  if (flags.server && flags.server.length > 0) overrides.server = flags.server;
  if (flags.dataDir) overrides.dataDir = flags.dataDir;
  const config = loadClientConfig({ file: flags.config, overrides });
  assertNoTrustV1(config, flags.config);
  assertBaseUrls(config.server, flags);
  const paths = dataPaths(config.dataDir);
  const logger = createLogger({ name: 'patchbay-client', level: commandLogLevel(config.log.level, command) });
  const dispatcher = createDispatcher({
    proxy: config.proxy,
    ca: readConfigFile(config.trust.ca, 'trust.ca', { configFile: flags.config }) ?? null,
  });
  const token =
    config.token ??
    readConfigFile(config.tokenFile, 'tokenFile', {
      secret: deps.platform ?? process.platform,
      configFile: flags.config,
    })?.trim();
  const stallTimeoutMs = config.timeoutSeconds * 1000;
  // trust on first use, an online key signing targets: stderr in both modes (session.out may be replaced: tests)
  const notice = (text: string): void => session.out.warn(text);
  if (!config.trust.root && config.trust.trustOnFirstUse !== true) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      "trust.root is not set: name the publisher's TUF root metadata shipped with this deployment " +
        '(docs/security.md, "Trust v2"), or set trust.trustOnFirstUse to take the first server\'s, knowingly',
      { key: 'trust.root' },
    );
  }
  const upstreams = upstreamsFromConfig(config.server);
  let ledger: Ledger | undefined;
  const session: Session = {
    config,
    paths,
    logger,
    dispatcher,
    store: new ContentStore(paths.cache),
    upstreams,
    catalogSource: new CatalogSource({
      upstreams,
      paths,
      trustRootFile: config.trust.root ?? undefined,
      trustOnFirstUse: config.trust.trustOnFirstUse === true,
      products: config.products.map((p) => ({ id: p.id, release: p.release })),
      dispatcher,
      stallTimeoutMs,
      logger,
      notice,
      ...(deps.now ? { now: deps.now } : {}),
    }),
    out: new Output(flags.json),
    async openLedger() {
      if (!ledger) ledger = await Ledger.open(paths.ledger);
      return ledger;
    },
    async close() {
      await dispatcher.close().catch(() => undefined);
    },
  };
  if (flags.config) session.configFile = flags.config;
  if (token) session.token = token;
  return session;
}

/**
 * A file a config key names (trust.ca, tokenFile); unreadable is a config error (exit 2).
 * A `secret` (the report token) is also refused when group or others may read it, as the
 * server refuses its private keys; checked on the open file. Windows has no mode bits: there
 * its ACL is checked (icacls), and only SYSTEM, Administrators and this account may read it.
 */
function readConfigFile(
  file: string | null | undefined,
  key: string,
  /** secret: the platform whose rules say who may read it */
  opts: { secret?: NodeJS.Platform; configFile?: string | undefined } = {},
): string | undefined {
  if (!file) return undefined;
  // `file` in an error's context is the config file the key is in (the hint says "fix KEY in
  // FILE"); the file the key names is `path`
  const where = { key, path: file, ...(opts.configFile ? { file: opts.configFile } : {}) };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw cannotReadConfigFile(file, key, err, where);
  }
  try {
    if (opts.secret === 'win32') {
      // no mode bits on Windows: its ACL says who may read it
      assertOnlyAdminsCanRead(file, key, opts.configFile ? { file: opts.configFile } : {});
    } else if (opts.secret) {
      const { mode } = fstatSync(fd);
      if ((mode & 0o077) !== 0) {
        const octal = (mode & 0o777).toString(8).padStart(3, '0');
        throw new PatchbayError(
          ErrorCodes.CONFIG,
          `${key}: ${file} is readable by group or others (mode ${octal}); fix it with: chmod 600 ${file}`,
          { ...where, mode: octal },
        );
      }
    }
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof PatchbayError) throw err;
    throw cannotReadConfigFile(file, key, err, where);
  } finally {
    closeSync(fd);
  }
}

function cannotReadConfigFile(
  file: string,
  key: string,
  err: unknown,
  context: Record<string, unknown>,
): PatchbayError {
  return new PatchbayError(ErrorCodes.CONFIG, `${key}: cannot read ${file}: ${errorMessage(err)}`, context);
}

/**
 * A staging server is named by its base URL: the client adds /v1/… itself, so one that already
 * ends in /v1 would ask for /v1/v1/catalog and get a 404 that says nothing useful.
 */
function assertBaseUrls(servers: ClientConfig['server'], flags: GlobalFlags): void {
  for (const [i, server] of servers.entries()) {
    if (typeof server !== 'string') continue;
    const url = URL.canParse(server) ? new URL(server) : undefined;
    if (!url || !/^https?:$/.test(url.protocol) || !/\/v1\/?$/.test(url.pathname)) continue;
    const base = new URL(url.pathname.replace(/v1\/?$/, ''), url).href;
    const fromFlag = flags.server !== undefined && flags.server.length > 0;
    throw new PatchbayError(
      fromFlag ? ErrorCodes.USAGE : ErrorCodes.CONFIG,
      `${fromFlag ? '--server' : `server[${i}]`} ${server}: name the staging server by its base URL, ` +
        `without /v1 (the client adds /v1/… itself): ${base}`,
      fromFlag ? { flag: '--server' } : { key: 'server', ...(flags.config ? { file: flags.config } : {}) },
    );
  }
}
