// Replicas: a request for leader work (POST /v1/sync, POST /v1/gc) that reaches a follower.
// 503 rather than forwarding: replicas do not know each other's addresses (the load balancer
// does), and a refused request did nothing, so the balancer may pass it to the next replica
// (docs/scale.md "What a follower does").
import type { ClusterView } from './deps.js';
import { HttpErrors } from './errors.js';

/** Throws 503 PB_ERR_HTTP_NOT_LEADER naming the leader unless this replica leads. */
export async function assertLeaderHere(cluster: ClusterView | undefined, what: string): Promise<void> {
  if (!cluster || cluster.isLeader()) return;
  const leader = await cluster.leaderId();
  throw HttpErrors.NOT_LEADER(
    cluster.replicaId,
    what,
    leader === null ? 'none elected yet' : `replica ${leader}`,
  );
}
