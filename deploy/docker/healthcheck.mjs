#!/usr/bin/env node
// Container health probe: GET a URL on this container and exit 0 on a 2xx, 1 otherwise.
// The slim Node image has no curl or wget, so the probe is Node itself (node:http, no deps).
//
//   node healthcheck.mjs [URL]
//
// URL: the argument, else $PATCHBAY_HEALTHCHECK_URL, else http://127.0.0.1:8080/healthz
// (the staging server's liveness route, open without a token: docs/security.md).
import http from 'node:http';
import https from 'node:https';

const TIMEOUT_MS = 4000;
const url = new URL(
  process.argv[2] ?? process.env.PATCHBAY_HEALTHCHECK_URL ?? 'http://127.0.0.1:8080/healthz',
);
const client = url.protocol === 'https:' ? https : http;

const request = client.get(
  url,
  {
    timeout: TIMEOUT_MS,
    // A liveness probe of this container's own listener over loopback: the certificate names the
    // server's public host name, not 127.0.0.1, and clients check it, not this probe.
    rejectUnauthorized: false,
    headers: { 'user-agent': 'patchbay-healthcheck' },
  },
  (res) => {
    res.resume();
    const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
    if (!ok) console.error(`healthcheck: ${url.href} answered ${res.statusCode}`);
    process.exit(ok ? 0 : 1);
  },
);
request.on('timeout', () => {
  console.error(`healthcheck: ${url.href} did not answer within ${TIMEOUT_MS} ms`);
  request.destroy();
  process.exit(1);
});
request.on('error', (err) => {
  console.error(`healthcheck: ${url.href}: ${err.message}`);
  process.exit(1);
});
