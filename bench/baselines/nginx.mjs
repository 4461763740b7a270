// nginx for two rows: serving the blob store's files itself (the baseline), and as a caching
// reverse proxy in front of patchbay (the deployment docs/performance.md describes). Runs in
// the foreground (daemon off) from a config written into the benchmark's temp directory.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from '../lib/procs.mjs';

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The server block of the caching proxy; docs/performance.md shows the same lines. */
export function proxyServerBlock({ port, upstream, cacheDir }) {
  return `
  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=patchbay_blobs:10m max_size=20g inactive=30d use_temp_path=off;
  upstream patchbay { server ${upstream}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    # Blobs are immutable and named by their SHA-256: cache them for as long as they are kept.
    location /v1/blobs/ {
      proxy_pass http://patchbay;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache patchbay_blobs;
      proxy_cache_key $uri;
      proxy_cache_valid 200 30d;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10m;
      add_header X-Cache-Status $upstream_cache_status always;
    }
    # Everything else (the catalog, reports, status) goes through uncached.
    location / {
      proxy_pass http://patchbay;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      client_max_body_size 16m;
    }
  }`;
}

/**
 * Round robin over staging server replicas: every route goes through uncached, as the fleet
 * benchmark's layout (b). `Host` is passed on (the servers refuse names they do not know).
 */
function replicasServerBlock({ port, upstreams }) {
  return `
  upstream patchbay_replicas { ${upstreams.map((u) => `server ${u};`).join(' ')} keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://patchbay_replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 300s;
      client_max_body_size 16m;
    }
  }`;
}

function staticServerBlock({ port, blobsDir }) {
  return `
  server {
    listen 127.0.0.1:${port};
    root ${blobsDir};
    location ~ "^/v1/blobs/sha256/(([0-9a-f]{2})[0-9a-f]{62})$" {
      default_type application/octet-stream;
      try_files /$2/$1 =404;
    }
  }`;
}

/**
 * Start nginx. mode 'static': serve `blobsDir` (<store>/blobs/sha256) at the blob route;
 * mode 'proxy': cache the blob route in front of `upstream` (host:port); mode 'replicas':
 * balance every route over `upstreams` (host:port each).
 */
export async function startNginx(nginxBin, { mode, workDir, blobsDir, upstream, upstreams }) {
  const dir = path.join(workDir, `nginx-${mode}`);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  mkdirSync(path.join(dir, 'cache'), { recursive: true });
  const port = await freePort();
  const server =
    mode === 'static'
      ? staticServerBlock({ port, blobsDir })
      : mode === 'replicas'
        ? replicasServerBlock({ port, upstreams })
        : proxyServerBlock({ port, upstream, cacheDir: path.join(dir, 'cache') });
  // As root the workers would run as nobody, which cannot read a 0700 temp directory.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const conf = `${user}
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
${server}
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const child = spawn(
    nginxBin,
    ['-p', dir, '-e', path.join(dir, 'logs/error.log'), '-c', confFile, '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor(`nginx (${mode}) on port ${port}`, () => fetch(`${url}/`).then(() => true), 15_000),
    exited.then(([code]) => {
      throw new Error(`nginx exited with ${code}: ${stderr}`);
    }),
  ]);
  return {
    url,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGQUIT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
