#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL server on 127.0.0.1 for the test suite.
#   scripts/postgres.sh start   -> prints the VOTING_DATABASE_URL to use
#   scripts/postgres.sh stop
# PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user.
set -euo pipefail

PORT="${VOTING_PG_PORT:-54329}"
DATA="${VOTING_PG_DATA:-/tmp/voting-pg-$PORT}"
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

case "${1:-start}" in
start)
    if [ -z "$(find_bin)" ]; then
        if [ "$(id -u)" != 0 ]; then echo "PostgreSQL is not installed; run as root to install it" >&2; exit 2; fi
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    BIN="$(find_bin)"
    if [ -f "$DATA/postmaster.pid" ]; then as_postgres "$BIN/pg_ctl -D $DATA stop -m fast -w" >/dev/null 2>&1 || true; fi
    rm -rf "$DATA"
    mkdir -p "$DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DATA"; fi
    as_postgres "$BIN/initdb -D $DATA -A trust -U postgres -E UTF8 --locale=C.UTF-8" >/dev/null
    as_postgres "$BIN/pg_ctl -D $DATA -l $DATA/server.log -w -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300\" start" >/dev/null
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
    ;;
stop)
    BIN="$(find_bin)"
    as_postgres "$BIN/pg_ctl -D $DATA stop -m fast -w" >/dev/null
    ;;
*)
    echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
