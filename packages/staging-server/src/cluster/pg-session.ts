// A PostgreSQL session of its own (the leader lock's, the publication watch's): not a pool's,
// because what it holds (a session lock, a LISTEN) lives exactly as long as the session.
import type pg from 'pg';

/**
 * Connect `client` and run `setup` on it. Ended, and the error thrown, when either fails or
 * when its owner closed meanwhile (`closed()`): the owner never keeps a session it gave up.
 */
export async function openSession(
  client: pg.Client,
  closed: () => boolean,
  setup: (client: pg.Client) => Promise<unknown> = () => Promise.resolve(),
): Promise<pg.Client> {
  try {
    await client.connect();
    await setup(client);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  if (closed()) {
    await client.end().catch(() => undefined);
    throw new Error('closed while connecting');
  }
  return client;
}
