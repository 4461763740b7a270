// "What to do next" for the errors the CLIs print: the config key to fix, the command to run,
// the file to look at. A message that already says what to do gets no second hint.
import { ErrorCodes, isPatchbayError } from '../errors.js';
import { createStyle, sanitizeTerminal, type Style } from './terminal.js';

export interface NextStepContext {
  program: 'patchbay-client' | 'patchbay-server';
  /** the --config file, when one was given */
  configFile?: string;
  hostId?: string;
  dataDir?: string;
  /** the command that failed (doctor does not suggest itself) */
  command?: string;
}

/** Phrases that mean the message itself already tells the reader what to do. */
const ADVICE =
  /\b(run "|try again|stop it|choose another|free (at least|space)|set trust\.|remove \S+ from|name patch ids|or pass --)|--cascade\b/i;

// Whole words: "stalled" must not match "installed" (every refused uninstall said it).
const NETWORK_TEXT =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|failed after \d+ attempts?|\bstalled\b|timed out/i;

/** `"key" in FILE`, or `"key" in the config file (--config FILE)` when none was given. */
function keyIn(ctx: NextStepContext, key: string): string {
  return `${key} in ${ctx.configFile ?? 'the config file (--config FILE)'}`;
}

/** A host's metadata did not chain to its trust root: nothing from it runs (docs/security.md). */
function tufRefusal(ctx: NextStepContext): string {
  return (
    `the server's metadata does not verify against ${keyIn(ctx, 'trust.root')} (altered, rolled back, expired, ` +
    "or signed by keys the root does not name): nothing from it was installed; check the server's GET /v1/status and docs/security.md"
  );
}

function reachServers(ctx: NextStepContext): string {
  const doctor = ctx.command === 'doctor' ? '' : '; "patchbay-client doctor" tests each server';
  return (
    'check that the staging server is running and reachable from this host, and ' +
    `${keyIn(ctx, '"server"')} (or --server)${doctor}`
  );
}

/** The upstream URL's config key and flag. */
function upstreamUrl(ctx: NextStepContext): string {
  return `${keyIn(ctx, 'upstream.url')} (or --upstream)`;
}

function reachUpstream(ctx: NextStepContext): string {
  return (
    `check that the feed at ${upstreamUrl(ctx)} is reachable from here, and ` +
    'upstream.proxy if this host needs a proxy; the previous catalog stays published'
  );
}

function enroll(ctx: NextStepContext, status: number): string {
  const host = ctx.hostId ?? 'HOSTID';
  const where = keyIn(ctx, '"token" (or "tokenFile")');
  return status === 403
    ? `the token in ${where} belongs to another host: run "patchbay-server enroll ${host}" on the staging server and use that token`
    : `enroll this host: run "patchbay-server enroll ${host}" on the staging server and put the token in ${where}`;
}

function httpStatus(status: number, ctx: NextStepContext): string | undefined {
  if (status === 401 || status === 403) {
    return ctx.program === 'patchbay-client'
      ? enroll(ctx, status)
      : `the upstream refused access (HTTP ${status}): check ${upstreamUrl(ctx)}`;
  }
  if (status === 404) {
    if (ctx.program !== 'patchbay-client')
      return `check that ${upstreamUrl(ctx)} names the feed directory (the one holding feed.json)`;
    // check itself fetched the catalog: running it again cannot help, the URL is wrong
    return ctx.command === 'check' || ctx.command === 'doctor'
      ? `check that ${keyIn(ctx, '"server"')} (or --server) is the staging server's base URL, e.g. http://HOST:8080 (without /v1)`
      : 'run "patchbay-client check" to fetch the current catalog; if it repeats, the staging server lost the file (see its /v1/status)';
  }
  if (status >= 500) return 'the server failed: try again later, and see its log if it repeats';
  return undefined;
}

/** The hint under a usage error: the help of the command that was given, else the program's. */
export function usageHint(program: string, command?: string): string {
  return `run "${program}${command ? ` ${command}` : ''} --help" for usage`;
}

/** What the person should do about `err`; undefined when the message already says so. */
export function nextStep(err: unknown, ctx: NextStepContext): string | undefined {
  if (!isPatchbayError(err)) return nextStepForSystemError(err, ctx);
  if (err.code !== ErrorCodes.USAGE && ADVICE.test(err.message)) return undefined;
  const key = typeof err.context.key === 'string' && err.context.key !== '' ? err.context.key : undefined;
  const client = ctx.program === 'patchbay-client';
  switch (err.code) {
    case ErrorCodes.USAGE:
      return usageHint(ctx.program, ctx.command);
    case ErrorCodes.CONFIG:
      if (/cannot read config file/.test(err.message)) return 'check the path given to --config';
      if (key === 'dataDir')
        return `use a directory this user can create and write: ${keyIn(ctx, '"dataDir"')}, or --data-dir`;
      return typeof err.context.file === 'string'
        ? `fix ${key ? `"${key}"` : 'that key'} in ${err.context.file} (every key and its default: docs/config.md)`
        : `fix ${key ? `"${key}"` : 'the value named above'} (every key and its default: docs/config.md)`;
    case ErrorCodes.UNKNOWN_PATCH:
      return 'run "patchbay-client check" to list the patch ids for this host';
    case ErrorCodes.UNKNOWN_PRODUCT:
      return key
        ? `fix ${keyIn(ctx, `"${key}"`)}: use a product and release that the catalog lists`
        : `add that product and release to ${keyIn(ctx, '"products"')}`;
    case ErrorCodes.NO_CATALOG:
      return reachServers(ctx);
    case ErrorCodes.NETWORK:
      return client ? reachServers(ctx) : reachUpstream(ctx);
    case ErrorCodes.LOCKED:
      return client
        ? 'wait for the other patchbay-client command (or the daemon) to finish, then try again'
        : 'stop the patchbay-server that holds the data directory, or use another --data-dir';
    case ErrorCodes.SIGNATURE:
      if (!client)
        return `check that ${keyIn(ctx, 'upstream.publicKey')} is the vendor's current key (docs/security.md)`;
      return tufRefusal(ctx);
    case ErrorCodes.TUF_VERIFY:
      return client ? tufRefusal(ctx) : undefined;
    case ErrorCodes.CATALOG_STALE:
      return err.context.reason === 'expired'
        ? 'on the staging server, look at GET /v1/status and run "patchbay-server sync": a sync re-signs its catalog'
        : 'a staging server serves an older catalog than this host accepted (restored from a backup, or not the real one): check it; see docs/security.md';
    case ErrorCodes.FEED_ROLLBACK:
      return 'the upstream published an older feed than one already mirrored: ask the vendor, or check upstream.url';
    case ErrorCodes.FEED_NOT_JSON:
    case ErrorCodes.FEED_SCHEMA:
    case ErrorCodes.FEED_INVALID:
    case ErrorCodes.IMPORT_REFUSED:
      return 'the feed or bundle cannot be used as it is: get a fresh copy from its publisher; nothing was changed';
    case ErrorCodes.HTTP_STATUS:
      return httpStatus(Number(err.context.status), ctx);
    case ErrorCodes.UNAUTHORIZED:
      return httpStatus(401, ctx);
    case ErrorCodes.FORBIDDEN:
      return httpStatus(403, ctx);
    case ErrorCodes.DIGEST_MISMATCH:
    case ErrorCodes.SIZE_MISMATCH:
      return client
        ? 'run the command again (the bad copy was discarded); if it repeats, the staging server\'s copy is damaged: run "patchbay-server sync" there'
        : 'the next sync fetches the file again; if it repeats, the upstream copy is damaged';
    case ErrorCodes.DISK_FULL:
      return `free space on the filesystem named above and try again`;
    case ErrorCodes.COMMAND_FAILED:
      return `see the command's log under ${ctx.dataDir ?? '<dataDir>'}/logs/`;
    default:
      return undefined;
  }
}

/** Node's own errors (EACCES on a data directory, a bug). */
function nextStepForSystemError(err: unknown, ctx: NextStepContext): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const path = (err as NodeJS.ErrnoException | undefined)?.path;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return `check that ${path ?? ctx.dataDir ?? 'the data directory'} is writable by this user (dataDir, --data-dir)`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'free space on that filesystem and try again';
  if (code === 'ENOENT' && path) return `check that ${path} exists`;
  if (code === 'ENOTDIR')
    return `a part of ${path ?? ctx.dataDir ?? 'that path'} is a file, not a directory: check dataDir (--data-dir)`;
  if (code === 'EADDRINUSE')
    return 'another program listens on that address: stop it, or choose another listen.port (--port)';
  return `unexpected: please report it with the output above (${ctx.program} --version)`;
}

/** A hint for an error known only as text (a sync report's error, a held-back patch). */
export function nextStepForMessage(message: string, ctx: NextStepContext): string | undefined {
  if (ADVICE.test(message)) return undefined;
  if (NETWORK_TEXT.test(message))
    return ctx.program === 'patchbay-client' ? reachServers(ctx) : reachUpstream(ctx);
  const status = /\bHTTP (\d{3})\b|answered (\d{3})\b/.exec(message);
  if (status) return httpStatus(Number(status[1] ?? status[2]), ctx);
  if (/signature/i.test(message))
    return ctx.program === 'patchbay-server'
      ? `check that ${keyIn(ctx, 'upstream.publicKey')} is the vendor's current key (docs/security.md)`
      : undefined;
  if (/rollback|older than/i.test(message))
    return 'the upstream published an older feed than one already mirrored: ask the vendor, or check upstream.url';
  if (/not valid JSON|schema/i.test(message))
    return 'the upstream feed is malformed: ask its publisher for a fixed one; the previous catalog stays published';
  return undefined;
}

/** `program: message`, then `program: hint: …` on its own line when there is one. */
export function formatError(
  program: string,
  message: string,
  hint?: string,
  style: Style = createStyle(false),
): string {
  // the message may quote a server or an installer: no escape sequence reaches the terminal
  const head = `${style.paint(['bold', 'red'], `${program}:`)} ${sanitizeTerminal(message)}\n`;
  return hint ? `${head}${style.paint('yellow', `${program}: hint:`)} ${sanitizeTerminal(hint)}\n` : head;
}
