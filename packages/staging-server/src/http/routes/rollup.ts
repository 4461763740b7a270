// Tiered mirrors: PUT /v1/branches/:branchId/rollup takes a branch staging server's
// summary of its clients' reports (tiers/rollup-protocol.ts), and GET /v1/branches lists
// the branches. The rollup needs the branch's own token (`patchbay-server enroll --branch
// BRANCHID`), a kind distinct from host tokens; the URL parameter is named hostId so that
// the access guard checks its pattern as it checks a host's report.
import type { FastifyContextConfig, FastifyPluginAsync } from 'fastify';
import { errorMessage, isPatchbayError, ErrorCodes, type ClientReport } from '@patchbay/core';
import { isNotifiableEvent } from '../../notify/events.js';
import { describeKey, mirrorKeyFile, readMirrorKey } from '../../trust/mirror-key.js';
import { assertRollupNoLoop, planRollup, type RollupPlan } from '../../tiers/rollup-ingest.js';
import { readRollupStatus } from '../../tiers/rollup-status.js';
import { ROLLUP_SCHEMA, type RollupAnswer, type RollupBody } from '../../tiers/rollup-protocol.js';
import { HttpError, HttpErrors } from '../errors.js';
import { strictValidatorCompiler } from '../strict-validator.js';
import { perIdRateLimit } from '../per-id-rate-limit.js';
import { logInstanceAndConflicts, normaliseReport } from './report-ingest.js';
import { assertNotFromFuture, reportLimit } from '../../reports/report-limits.js';
import type { HttpDeps } from '../deps.js';

/** A rollup carries many hosts: it may be this many times a single report's limit. */
const ROLLUP_BODY_FACTOR = 4;
// Route access classes (auth/access.ts), stated by the route: fastify's config type does not declare them.
const BRANCH_TOKEN = { access: 'rollup' } as FastifyContextConfig;
const READ = { access: 'read' } as FastifyContextConfig;

export const rollupRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  const { store, config, mirror, notifier, tokens } = deps;
  const clock = deps.now ?? (() => new Date());
  const skewSeconds = reportLimit(config, 'maxClockSkewSeconds');
  const maxEvents = reportLimit(config, 'maxEventsPerRollup');
  // Loop checks need this mirror's fingerprint even before its first publication.
  const key = await readMirrorKey(mirrorKeyFile(config)).catch(() => undefined);
  const ownKey = key ? describeKey(key).fingerprint : null;
  const fingerprint = (): string | null => mirror.current()?.keys.fingerprint ?? ownKey;

  app.route<{ Params: { hostId: string }; Body: RollupBody }>({
    method: 'PUT',
    url: '/v1/branches/:hostId/rollup',
    bodyLimit: config.reports.maxBodyBytes * ROLLUP_BODY_FACTOR,
    config: {
      ...BRANCH_TOKEN,
      // Per branch, counted after the token check and before the body is parsed (as reports).
      rateLimit: perIdRateLimit({
        max: reportLimit(config, 'rollupsPerMinute'),
        kind: 'rollup',
        what: (id) => `branch "${id}" rollups`,
        key: 'reports.rollupsPerMinute',
      }),
    } as FastifyContextConfig,
    validatorCompiler: strictValidatorCompiler,
    schema: { body: ROLLUP_SCHEMA },
    handler: async (request, reply) => {
      const branchId = request.params.hostId;
      const body = request.body;
      if (body.branchId !== branchId) throw HttpErrors.HOST_MISMATCH(branchId, body.branchId);
      try {
        assertRollupNoLoop(body, fingerprint());
      } catch (err) {
        if (isPatchbayError(err, ErrorCodes.MIRROR_LOOP)) throw HttpErrors.MIRROR_LOOP(err.message);
        throw err;
      }
      const events = body.hosts.reduce((sum, host) => sum + host.report.events.length, 0);
      if (events > maxEvents)
        throw HttpErrors.TOO_MANY_EVENTS(
          `the rollup of branch "${branchId}"`,
          events,
          maxEvents,
          'reports.maxEventsPerRollup',
        );
      const at = clock();
      const badReports: RollupAnswer['refused'] = [];
      const hosts = body.hosts.flatMap((host, index) => {
        if (host.report.hostId === undefined)
          throw HttpErrors.BAD_REPORT_FIELD(`body/hosts/${index}`, 'lacks hostId');
        try {
          // One host's bad report (a wrong clock, a patch named twice) is refused by name;
          // the branch's other hosts still go in.
          const report = normaliseReport(host.report, `body/hosts/${index}/report`);
          assertNotFromFuture(report, at, skewSeconds, `body/hosts/${index}/report`);
          return [{ ...host, report }];
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          badReports.push({ hostId: host.report.hostId, reason: err.message });
          return [];
        }
      });
      const now = at.toISOString();
      const hostIds = hosts.map((host) => host.report.hostId);
      // A token enrolled after this lookup: the host's first own report takes it over from
      // the branch (a report clears its branch), and the branch is refused from then on.
      const ownTokens = await tokens.liveHostTokenHolders(hostIds);
      // Planned by the store inside its transaction, on the origins it reads there; a retried
      // transaction plans again, so the last plan is the one stored.
      let plan: RollupPlan = { accepted: [], refused: [] };
      const results = await store.ingestRollup(
        { branchId, mirror: body.mirror },
        {
          hostIds,
          admit: (origins) => {
            plan = planRollup(
              { ...body, hosts },
              {
                originOf: (hostId) =>
                  origins.has(hostId) ? { via: origins.get(hostId) ?? null } : undefined,
                hasOwnToken: (hostId) => ownTokens.has(hostId),
                fingerprint: fingerprint(),
                now,
              },
            );
            return plan.accepted;
          },
        },
        now,
      );
      results.forEach((r, i) => logInstanceAndConflicts(request.log, plan.accepted[i]!.report.hostId, r));
      notifyStored(
        plan.accepted.map((h) => h.report),
        results.map((r) => r.stored),
      );
      const answer: RollupAnswer = {
        accepted: results.reduce((sum, r) => sum + r.accepted, 0),
        hosts: plan.accepted.length,
        refused: [...badReports, ...plan.refused],
      };
      request.log.info(
        { branchId, hosts: answer.hosts, accepted: answer.accepted, refused: answer.refused.length },
        'rollup stored',
      );
      return reply.code(200).send(answer);
    },
  });

  app.get('/v1/branches', { config: READ }, async () => store.branches());

  // This server as a branch: its rollup to the parent (null fields when none is configured).
  app.get('/v1/rollup', { config: READ }, async () => ({
    configured: config.rollup !== undefined,
    parent: config.rollup?.url ?? null,
    branchId: config.rollup?.branchId ?? null,
    last: config.rollup ? await readRollupStatus(config.dataDir) : null,
  }));

  /** Mail the events this rollup newly stored, as a report's would be (never blocks the answer). */
  function notifyStored(reports: readonly ClientReport[], stored: readonly ClientReport['events'][]): void {
    if (!notifier?.enabled) return;
    reports.forEach((report, index) => {
      const events = (stored[index] ?? []).filter(isNotifiableEvent);
      if (events.length === 0) return;
      try {
        notifier.onReport(
          { hostId: report.hostId, hostname: report.hostname ?? report.hostId },
          events,
          mirror.current()?.catalog ?? null,
        );
      } catch (err) {
        app.log.error(
          { err: errorMessage(err), hostId: report.hostId },
          'notify: could not queue the rollup mail',
        );
      }
    });
  }
};
