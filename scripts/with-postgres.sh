#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster: initdb into a temporary directory, start it
# on a free loopback port, export PREDELINQ_TEST_DATABASE_URL, run "$@", stop and delete it.
# As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$found" ]; then echo "$found"; else dirname "$(command -v initdb)"; fi
}
BIN=$(pg_bin)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA=$(mktemp -d /tmp/predelinq-pg.XXXXXX)
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$DATA"
  RUN_AS=(runuser -u postgres --)
fi

cleanup() {
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT

"${RUN_AS[@]}" "$BIN/initdb" -D "$DATA/db" -U predelinq --auth=trust -E UTF8 >"$DATA/initdb.log" 2>&1 \
  || { cat "$DATA/initdb.log" >&2; exit 1; }
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w -t 60 \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
  || { cat "$DATA/server.log" >&2; exit 1; }
"${RUN_AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U predelinq predelinq_test

export PREDELINQ_TEST_DATABASE_URL="postgresql://predelinq@127.0.0.1:$PORT/predelinq_test"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (throwaway)"
"$@"
