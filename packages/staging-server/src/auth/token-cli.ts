// `patchbay-server enroll HOSTID` and `revoke HOSTID` (CONTRACT §3, §5). They open only
// <dataDir>/auth.sqlite — never the mirror's data-dir lock — so they work while `serve`
// runs, which reads the token table per request and sees the change at once.
import { TokenStore } from './token-store.js';

interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: Output = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs enroll or revoke; returns the exit code (0 done, 1 revoke of a host without a token). */
export function runTokenCommand(
  command: 'enroll' | 'revoke',
  hostId: string,
  dataDir: string,
  json: boolean,
  out: Output = processOutput,
): number {
  const store = TokenStore.open(dataDir);
  try {
    if (command === 'enroll') {
      const token = store.enroll(hostId);
      // The only time the token exists outside the host: the store keeps its hash.
      out.stdout(json ? `${JSON.stringify({ hostId, token })}\n` : `${token}\n`);
      if (!json)
        out.stderr(
          `host "${hostId}" enrolled; put the token above in its client config ("token" or "tokenFile"). ` +
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
