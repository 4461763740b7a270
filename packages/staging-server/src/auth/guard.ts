// Installs the access checks of access.ts on every route as the first onRequest hook,
// so a refused request is answered before its body is read or parsed.
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { HOST_ID_PATTERN } from '@patchbay/core';
import { HttpErrors } from '../http/errors.js';
import { bearerToken, isLoopbackAddress, secretsEqual } from './admin-token.js';
import { accessOf, isRouteAccess, type RouteAccess } from './access.js';
import type { TokenCheck, TokenStore } from './token-store.js';

export interface AuthOptions {
  /** per-host report tokens and branch rollup tokens; read per request, so enroll/revoke apply at once */
  tokens: TokenStore;
  /** resolved admin token (resolveAdminToken); null: admin routes only from loopback */
  adminToken: string | null;
  /** read-only status and report endpoints without the admin token */
  publicStatus: boolean;
  reportTokens: 'required' | 'optional';
}

const ENROLL_HINT = 'send Authorization: Bearer <token> (patchbay-server enroll HOSTID issues one)';
const BRANCH_HINT =
  'send Authorization: Bearer <token> (patchbay-server enroll --branch BRANCHID issues one, distinct from any host token)';

/**
 * A presented token that does not check out: 401 when it is no (longer a) valid token, 403 when it
 * is valid but not for this host or this kind of request. `messages` words each refusal.
 */
function refuseUnlessOk(check: TokenCheck, messages: Record<Exclude<TokenCheck, 'ok'>, string>): void {
  if (check === 'ok') return;
  const forbidden = check === 'other-host' || check === 'wrong-kind';
  throw forbidden ? HttpErrors.FORBIDDEN(messages[check]) : HttpErrors.UNAUTHORIZED(messages[check]);
}

/** A route class's check: resolves when the request may proceed, throws (rejects) the refusal. */
type AccessCheck = (request: FastifyRequest) => void | Promise<void>;

export function makeAccessChecks(options: AuthOptions): Record<RouteAccess, AccessCheck> {
  const { tokens, adminToken } = options;

  const admin = (request: FastifyRequest): void => {
    if (adminToken === null) {
      // No admin token configured: only a process on this machine is trusted.
      if (isLoopbackAddress(request.socket.remoteAddress)) return;
      throw HttpErrors.FORBIDDEN(
        'no admin token is configured (auth.adminToken): this route answers loopback clients only',
      );
    }
    const token = bearerToken(request.headers.authorization);
    if (token === null)
      throw HttpErrors.UNAUTHORIZED(
        'this route needs the admin token: send Authorization: Bearer <auth.adminToken>',
      );
    if (!secretsEqual(token, adminToken))
      throw HttpErrors.UNAUTHORIZED('the bearer token is not the admin token');
  };

  const report = async (request: FastifyRequest): Promise<void> => {
    const token = bearerToken(request.headers.authorization);
    if (token === null) {
      if (options.reportTokens === 'optional') return;
      throw HttpErrors.UNAUTHORIZED(`a report needs its host's token: ${ENROLL_HINT}`);
    }
    // A token, when sent, is checked in either mode: a wrong one is never ignored.
    const hostId = (request.params as { hostId?: string }).hostId ?? '';
    refuseUnlessOk(await tokens.check(hostId, token, 'host'), {
      revoked: `the token of host "${hostId}" has been revoked; enroll the host again`,
      'other-host': 'the token belongs to another host: a host can report only as itself',
      'wrong-kind': "the token is a branch's rollup token: a host reports with its own host token",
      unknown: `the bearer token is not this host's current token; ${ENROLL_HINT}`,
    });
  };

  // A rollup stores reports of many hosts: always the branch's own token, whatever
  // auth.reportTokens says, and never a host's (which would let one host write others).
  const rollup = async (request: FastifyRequest): Promise<void> => {
    const branchId = (request.params as { hostId?: string }).hostId ?? '';
    const token = bearerToken(request.headers.authorization);
    if (token === null)
      throw HttpErrors.UNAUTHORIZED(`a rollup needs branch "${branchId}"'s token: ${BRANCH_HINT}`);
    refuseUnlessOk(await tokens.check(branchId, token, 'branch'), {
      revoked: `the token of branch "${branchId}" has been revoked; enroll the branch again (enroll --branch)`,
      'other-host': 'the token belongs to another branch: a branch can roll up only as itself',
      'wrong-kind': `a host's report token cannot send a branch's rollup: ${BRANCH_HINT}`,
      unknown: `the bearer token is not branch "${branchId}"'s current token; ${BRANCH_HINT}`,
    });
  };

  return {
    open: () => undefined,
    report,
    rollup,
    read: (request) => {
      if (!options.publicStatus) admin(request);
    },
    admin,
  };
}

const HOST_ID = new RegExp(HOST_ID_PATTERN);

/**
 * Every `:hostId` path parameter obeys core's HOST_ID_PATTERN, checked before the
 * token lookup and before any route's own schema, so no odd string reaches a store.
 */
function checkHostIdParam(request: FastifyRequest): void {
  const { hostId } = request.params as { hostId?: string };
  if (hostId !== undefined && !HOST_ID.test(hostId))
    throw HttpErrors.BAD_REPORT_FIELD('params/hostId', `must match pattern "${HOST_ID_PATTERN}"`);
}

/** Call before any route is registered: the hook classifies each route as it is added. */
export function installAccessControl(app: FastifyInstance, options: AuthOptions): void {
  const checks = makeAccessChecks(options);
  app.addHook('onRoute', (route) => {
    const stated = (route.config as { access?: unknown } | undefined)?.access;
    const access = isRouteAccess(stated) ? stated : accessOf(route.method, route.url ?? route.path);
    const url = route.url ?? route.path;
    const checkParams = url.includes(':hostId');
    if (access === 'open' && !checkParams) return;
    const check = checks[access];
    const hook: onRequestHookHandler = async (request) => {
      if (checkParams) checkHostIdParam(request);
      await check(request);
    };
    const existing = route.onRequest;
    route.onRequest =
      existing === undefined ? [hook] : [hook, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
