// GET /v1/status — what an operator checks first: version, upstream, the last sync
// (with held-back patches), the next one, the mirror's size, the blob store's
// (reclaimable bytes, last gc) and the fleet's freshness.
import type { FastifyPluginAsync } from 'fastify';
import { errorMessage, redactCredentials } from '@patchbay/core';
import { soleLeader } from '../../cluster/leadership.js';
import { disabledNotifier } from '../../notify/notifier.js';
import type { HttpDeps } from '../deps.js';
import type { SyncReport } from '../../mirror.js';

/** The upstream URL without user:password, which must never reach a response or a log. */
export const redactUrl = redactCredentials;

function lastUpdateOf(report: SyncReport | null) {
  if (report === null || report.finishedAt === null) return null;
  return {
    kind: report.imported ? ('import' as const) : ('sync' as const),
    at: report.finishedAt,
    outcome: report.outcome,
    upstreamSequence: report.upstreamSequence,
    ...(report.imported ? { source: report.imported.source, bundle: report.imported.kind } : {}),
  };
}

export const statusRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  const notifier = deps.notifier ?? disabledNotifier;
  const cluster = deps.cluster ?? soleLeader();
  app.get('/v1/status', async () => {
    const { mirror, store, config } = deps;
    const now = Date.now();
    const staleBefore = new Date(now - config.reports.staleAfterHours * 3_600_000).toISOString();
    // A follower reads the leader's last sync from the shared sync state now, not at its next
    // reload: a sync the leader is running shows as running on every replica.
    const leads = cluster.isLeader();
    if (!leads)
      await mirror.reload?.().catch((err: unknown) => {
        app.log.warn({ err: errorMessage(err) }, "status: the leader's sync state could not be read");
      });
    const last = mirror.lastSync();
    const next = deps.nextSyncAt();
    // trust v2: present when the upstream is a TUF repository (tuf/served-repository.ts)
    const trust = mirror.tufRepository?.()?.trustStatus();
    return {
      version: deps.version,
      uptimeSeconds: Math.floor((now - deps.startedAt.getTime()) / 1000),
      upstream: { url: redactUrl(config.upstream.url) },
      lastSync:
        last === null
          ? null
          : { ...last, heldBack: last.heldBack.map(({ patchId, error }) => ({ patchId, error })) },
      // extension: the last sync or import that succeeded (an air-gapped server's import)
      lastUpdate: lastUpdateOf(mirror.lastUpdate?.() ?? null),
      nextSyncAt: next === null ? null : next.toISOString(),
      syncing: mirror.isSyncing() || (!leads && last?.outcome === 'running'),
      mirror: await mirror.stats(),
      // extension: the blob store as gc sees it (figures cached; recomputed after syncs and gc)
      storage: await mirror.storage(),
      clients: await store.countClients(staleBefore),
      notify: notifier.status(),
      ...(trust ? { trust } : {}),
      // extension: replicas (docs/scale.md): this one, whether it leads, where the shared state is
      cluster: { replica: cluster.replicaId, leader: cluster.isLeader(), database: cluster.database },
    };
  });
};
