#!/bin/sh
# One-shot init of the compose sandbox (services `init-secrets` and `enroll-client-*` in
# docker-compose.yml), run before the staging server and the clients start:
#   - with --admin, an admin token for the staging server (auth.adminTokenFile), and
#   - a report token for each host named as an argument (`patchbay-server enroll HOST`),
#     for that client's `tokenFile`.
# Each is made once and kept in the secrets directory, so `docker-compose up` again changes
# nothing; `docker-compose down -v` removes the volumes and with them every token. Compose
# runs it once per secrets volume (the server's, then each client's), so every service
# mounts only its own secret.
#
#   sh init-secrets.sh [--admin] [HOSTID...]
#
# PATCHBAY_SECRETS_DIR (default /var/lib/patchbay-secrets) and PATCHBAY_SERVER_CONFIG
# (default /etc/patchbay/staging-server.json) let test/packaging.test.ts run it outside a container.
set -eu

secrets=${PATCHBAY_SECRETS_DIR:-/var/lib/patchbay-secrets}
config=${PATCHBAY_SERVER_CONFIG:-/etc/patchbay/staging-server.json}
umask 077

if [ ! -d "$secrets" ]; then
  echo "init-secrets: secrets directory $secrets does not exist" >&2
  exit 2
fi

# Write the output of a command to FILE atomically: a crash never leaves a partial token.
write_once() {
  file=$1
  shift
  if [ -s "$file" ]; then
    echo "init-secrets: $file exists, kept"
    return 0
  fi
  "$@" >"$file.tmp"
  mv "$file.tmp" "$file"
  echo "init-secrets: wrote $file"
}

if [ "${1:-}" = --admin ]; then
  shift
  # 32 random bytes, base64url: the admin token (docs/security.md asks for a long random string).
  write_once "$secrets/admin-token" node -e \
    'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url") + "\n")'
fi

for host in "$@"; do
  # enroll prints the token alone on stdout; it opens only auth.sqlite in the server's dataDir.
  write_once "$secrets/$host.token" patchbay-server --config "$config" enroll "$host"
done
