// `patchbay-server enroll [--branch] HOSTID` and `revoke HOSTID` (CONTRACT §3, §5). They open only
// <dataDir>/auth.sqlite — never the mirror's data-dir lock — so they work while `serve`
// runs, which reads the token table per request and sees the change at once.
import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { TokenStore, type TokenKind } from './token-store.js';

interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs enroll or revoke; returns the exit code (0 done, 1 revoke of a host without a token,
 * 2 enroll of a name that holds a live token of the other kind).
 */
export function runTokenCommand(
  command: 'enroll' | 'revoke',
  hostId: string,
  dataDir: string,
  json: boolean,
  options: { kind?: TokenKind } = {},
  out: Output = processOutput,
): number {
  const kind = options.kind ?? 'host';
  const store = TokenStore.open(dataDir);
  try {
    if (command === 'enroll') {
      let token: string;
      try {
        token = store.enroll(hostId, new Date(), kind);
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
    const revoked = store.revoke(hostId);
    if (!revoked) {
      const message = `host "${hostId}" has no token to revoke`;
      if (json) out.stdout(`${JSON.stringify({ hostId, revoked: false, error: message })}\n`);
      out.stderr(`patchbay-server: revoke: ${message}\n`);
      return 1;
    }
    out.stdout(json ? `${JSON.stringify({ hostId, revoked: true })}\n` : `host "${hostId}": token revoked\n`);
    return 0;
  } finally {
    store.close();
  }
}
