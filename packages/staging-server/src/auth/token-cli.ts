// `patchbay-server enroll [--branch] HOSTID` and `revoke HOSTID` (CONTRACT §3, §5). They open only
// the token store — <dataDir>/auth.sqlite, or with database.url the PostgreSQL database —
// never the mirror's data-dir lock, so they work while `serve` runs (every replica of it), which
// reads the token table per request and sees the change at once.
import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { openTokenStore, type TokenStoreConfig } from './open-token-store.js';
import type { TokenKind, TokenStore } from './token-store.js';

interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs enroll or revoke; returns the exit code (0 done, 1 revoke of a host without a token or
 * a database that cannot be reached, 2 enroll of a name that holds a live token of the other kind).
 */
export async function runTokenCommand(
  command: 'enroll' | 'revoke',
  hostId: string,
  config: TokenStoreConfig,
  json: boolean,
  options: { kind?: TokenKind } = {},
  out: Output = processOutput,
): Promise<number> {
  try {
    // One command, a statement or two: a pool of the smallest size.
    const store = await openTokenStore(config, { poolSize: 2 });
    try {
      return await runOnStore(store, command, hostId, json, options.kind ?? 'host', out);
    } finally {
      await store.close();
    }
  } catch (err) {
    // PostgreSQL down or the URL wrong: said in one line naming the database, not a stack.
    if (!isPatchbayError(err, ErrorCodes.DATABASE)) throw err;
    if (json) out.stdout(`${JSON.stringify({ hostId, error: err.message })}\n`);
    out.stderr(`patchbay-server: ${command}: ${err.message}\n`);
    return 1;
  }
}

async function runOnStore(
  store: TokenStore,
  command: 'enroll' | 'revoke',
  hostId: string,
  json: boolean,
  kind: TokenKind,
  out: Output,
): Promise<number> {
  if (command === 'enroll') {
    let token: string;
    try {
      token = await store.enroll(hostId, new Date(), kind);
    } catch (err) {
      if (!isPatchbayError(err, ErrorCodes.USAGE)) throw err;
      if (json) out.stdout(`${JSON.stringify({ hostId, kind, error: err.message })}\n`);
      out.stderr(`patchbay-server: enroll: ${err.message}\n`);
      return 2;
    }
    // The only time the token exists outside the host: the store keeps its hash.
    // A host's is exactly { hostId, token } (CONTRACT §5); a branch's says its kind.
    const printed = kind === 'branch' ? { hostId, kind, token } : { hostId, token };
    out.stdout(json ? `${JSON.stringify(printed)}\n` : `${token}\n`);
    if (!json)
      out.stderr(
        (kind === 'branch'
          ? `branch "${hostId}" enrolled; put the token above in that staging server's config ` +
            '("rollup.token" or "rollup.tokenFile"). '
          : `host "${hostId}" enrolled; put the token above in its client config ("token" or "tokenFile"). `) +
          'It is shown only now; enrolling again replaces it.\n',
      );
    return 0;
  }
  const revoked = await store.revoke(hostId);
  if (!revoked) {
    const message = `host "${hostId}" has no token to revoke`;
    if (json) out.stdout(`${JSON.stringify({ hostId, revoked: false, error: message })}\n`);
    out.stderr(`patchbay-server: revoke: ${message}\n`);
    return 1;
  }
  out.stdout(json ? `${JSON.stringify({ hostId, revoked: true })}\n` : `host "${hostId}": token revoked\n`);
  return 0;
}
