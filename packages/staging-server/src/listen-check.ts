// `serve` tries its listen address before it opens the mirror: a port in use must fail
// before anything is made in the data directory (keys, the report store), and say so.
import net from 'node:net';
import { ErrorCodes, PatchbayError, errorMessage } from '@patchbay/core';

/** Bind host:port and let it go again; throws the listenError of a refusal. */
export async function assertCanListen(host: string, port: number): Promise<void> {
  if (port === 0) return; // any free port: nothing to collide with
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => reject(listenError(err, host, port)));
    probe.listen({ host, port, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** A listen failure as a config error naming listen.host / listen.port and what to do. */
export function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (code === 'EADDRINUSE') {
    return new PatchbayError(
      ErrorCodes.CONFIG,
      `cannot listen on ${where}: another program already listens there; stop it or choose another port ` +
        '(listen.port, --port)',
      { key: 'listen.port', errno: code },
    );
  }
  if (code === 'EACCES') {
    return new PatchbayError(
      ErrorCodes.CONFIG,
      `cannot listen on ${where}: ports below 1024 need privileges; choose another port (listen.port, --port)`,
      { key: 'listen.port', errno: code },
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new PatchbayError(
      ErrorCodes.CONFIG,
      `cannot listen on ${where}: ${host} is not an address of this machine (${errorMessage(err)})`,
      { key: 'listen.host', errno: code },
    );
  }
  return err;
}
