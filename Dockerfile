# patchbay: one image for every program. The command picks which one runs:
#   patchbay-server   the staging server (the default command below)
#   patchbay-client   the client daemon (`run`) and its CLI
#   patchbay-upstream the reference upstream serving the bundled sample feed (sandbox only)
# Build: docker build -t patchbay:local .    Stack: docker-compose up --build (docker-compose.yml)
# Details and the systemd/Windows alternatives: docs/deploy.md. This build is not run in CI
# (no Docker engine there); CI validates docker-compose.yml with `docker-compose config`.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build

# better-sqlite3 falls back to compiling with node-gyp when its prebuilt binary cannot be
# downloaded (a proxy, an offline mirror): that needs python3, make and a C++ compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# node-gyp: build against this image's own Node headers instead of downloading them.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

WORKDIR /src

# Dependencies first, so that a source change does not reinstall (and recompile) them. The
# bin/ launchers come along: npm links node_modules/.bin/patchbay-* only to files that exist.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/sample-feed/package.json packages/sample-feed/
COPY packages/sample-feed/bin/ packages/sample-feed/bin/
COPY packages/staging-server/package.json packages/staging-server/
COPY packages/staging-server/bin/ packages/staging-server/bin/
COPY packages/client-daemon/package.json packages/client-daemon/
COPY packages/client-daemon/bin/ packages/client-daemon/bin/
COPY packages/publisher/package.json packages/publisher/
COPY packages/publisher/bin/ packages/publisher/bin/
# --ignore-scripts: the root `prepare` script is the build, which needs the sources copied
# below; better-sqlite3's install script (the only dependency that has one) runs in the rebuild.
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3

COPY tsconfig.json tsconfig.base.json ./
COPY docs/ docs/
COPY packages/ packages/
# tsc -b, then the deterministic sample feed (packages/sample-feed/feed/) and the sample TUF
# repository made from it with the DEMO keys (packages/sample-feed/repository/), which the
# sandbox serves; then drop the dev dependencies (tsc, tap, eslint...) from node_modules.
RUN npx tsc -b \
 && node packages/sample-feed/bin/patchbay-sample-feed.js generate \
 && node packages/sample-feed/bin/patchbay-sample-feed.js repository \
 && npm prune --omit=dev \
 && rm -f packages/*/dist/.tsbuildinfo

# -------------------------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime

# tini as PID 1: forwards SIGTERM to the program (which stops gracefully: docs/cli.md) and
# reaps orphans, e.g. an installer's children the client daemon started.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# A dedicated unprivileged user. The mount points exist in the image, owned by that user, so
# that a new named volume mounted on them starts with that owner (docker copies it).
#   /var/lib/patchbay          data: the server's mirror, keys and reports, or the client's ledger
#   /var/lib/patchbay-secrets  tokens (docker-compose.yml writes them once, see deploy/compose/)
#   /opt/arcserve              the sandbox product install a client daemon patches (compose)
RUN groupadd --system --gid 10001 patchbay \
 && useradd --system --uid 10001 --gid patchbay --home-dir /var/lib/patchbay --no-create-home \
      --shell /usr/sbin/nologin patchbay \
 && install -d -o patchbay -g patchbay -m 0750 /var/lib/patchbay /opt/arcserve \
 && install -d -o patchbay -g patchbay -m 0700 /var/lib/patchbay-secrets \
 && install -d -m 0755 /etc/patchbay

# The application, owned by root and read-only to the patchbay user. docs/ carries the JSON
# Schemas the config and feed loaders read at run time.
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/docs/ docs/
COPY --from=build /src/packages/ packages/
COPY deploy/docker/healthcheck.mjs deploy/docker/
# The sandbox server's online key (snapshot, timestamp): the committed DEMO key the sample
# repository's root lists, 0600 and the patchbay user's, as the server requires of a private key.
# DEMO KEY, PUBLIC, NEVER FOR PRODUCTION: a real server makes its own (`patchbay-server keygen`).
RUN install -o patchbay -g patchbay -m 0600 \
      packages/sample-feed/demo-keys/staging-server/online.key /etc/patchbay/demo-online.key

ENV NODE_ENV=production \
    PATH=/app/node_modules/.bin:$PATH \
    PATCHBAY_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz

USER patchbay:patchbay
# Relative defaults (a run without --config) land in the data volume, never in /app.
WORKDIR /var/lib/patchbay
VOLUME ["/var/lib/patchbay"]
EXPOSE 8080

# The staging server's liveness route; other programs override or disable it (compose does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# Without a config: the bundled sample feed, data in the volume. Real use mounts a config:
#   docker run -v ./staging-server.json:/etc/patchbay/staging-server.json:ro ... \
#     patchbay-server --config /etc/patchbay/staging-server.json serve
CMD ["patchbay-server", "--data-dir", "/var/lib/patchbay/staging-server", "serve"]
