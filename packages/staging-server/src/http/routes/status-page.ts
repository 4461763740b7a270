// The status page at `/` (issue 8): a static shell — HTML, plain ES modules and CSS
// from packages/staging-server/status-page/, no build step, no data — served by
// @fastify/static to anyone. The page reads the same JSON endpoints the API offers
// (/v1/status, /v1/reports/compliance?view=hosts, /v1/clients/:hostId) with the access
// those demand: with auth.publicStatus false it asks for the admin token (docs/status-page.md).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyContextConfig, FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import type { HttpDeps } from '../deps.js';

/** The shell's files; the same depth below the package from src/ and dist/. */
export const STATUS_PAGE_DIR = fileURLToPath(new URL('../../../status-page/', import.meta.url));
/** Where the shell's scripts and styles are served; the page itself is `/`. */
export const STATUS_PAGE_PREFIX = '/status-page/';

/**
 * The API's own CSP forbids everything (http-hardening.ts); the page may run its own
 * scripts and styles and call its own origin, and nothing else: no CDN, no inline code.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SERVED = /\.(?:html|js|css)$/;

export const statusPageRoutes: FastifyPluginAsync<HttpDeps> = async (app) => {
  // serve: false — routes are declared here, one per file, so each can state its access
  // class (access.ts denies what it does not know) and no wildcard route shadows the 404s.
  await app.register(fastifyStatic, { root: STATUS_PAGE_DIR, serve: false, index: false });
  const files = readdirSync(STATUS_PAGE_DIR).filter((f) => SERVED.test(f));
  if (!files.includes('index.html'))
    throw new Error(`status page: ${STATUS_PAGE_DIR}index.html is missing from the package`);

  const send =
    (file: string): RouteHandlerMethod =>
    (_request, reply) =>
      reply
        .header('content-security-policy', STATUS_PAGE_CSP)
        // Revalidated on every load (ETag / Last-Modified), so an upgraded server's page is seen at once.
        .header('cache-control', 'no-cache')
        .sendFile(file, { cacheControl: false });

  // The shell holds no data, so it is open; the data routes keep their own access.
  const open = { config: { access: 'open' } as FastifyContextConfig };
  app.get('/', open, send('index.html'));
  for (const file of files)
    if (file !== 'index.html') app.get(`${STATUS_PAGE_PREFIX}${file}`, open, send(file));
};
