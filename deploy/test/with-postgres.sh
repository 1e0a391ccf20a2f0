#!/usr/bin/env bash
# Runs a command (the test suite) with a throw-away PostgreSQL cluster on a loopback port, its
# URL in ZHIKU_TEST_DATABASE_URL; the cluster and its files are removed afterwards. Debian's
# postgresql package is installed first when it is missing (as root, or with sudo). Without
# PostgreSQL the command still runs, and the PostgreSQL tests print SKIPPED.
set -euo pipefail

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(pg_bin)" ] && command -v apt-get >/dev/null; then
    echo "installing Debian's postgresql package for the database tests" >&2
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo -n)
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get install -y -q postgresql >&2 \
        || { "${as_root[@]}" apt-get update -q >&2 && "${as_root[@]}" apt-get install -y -q postgresql >&2; } \
        || echo "could not install postgresql" >&2
fi
BIN="$(pg_bin)"
if [ -z "$BIN" ]; then
    echo "PostgreSQL is not available: the PostgreSQL tests will say SKIPPED" >&2
    exec "$@"
fi

DIR="$(mktemp -d /tmp/zhiku-pg.XXXXXX)"
# initdb refuses to run as root: the cluster belongs to the package's postgres user then.
run=()
if [ "$(id -u)" = 0 ]; then
    run=(runuser -u postgres --)
    chown postgres "$DIR"
fi
cleanup() {
    "${run[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

"${run[@]}" "$BIN/initdb" -D "$DIR/data" -U zhiku --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }
started=""
for _ in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 40000))
    if "${run[@]}" "$BIN/pg_ctl" -D "$DIR/data" -w -t 30 -l "$DIR/server.log" \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
        started=1
        break
    fi
done
if [ -z "$started" ]; then
    cat "$DIR/server.log" >&2 || true
    echo "could not start a PostgreSQL cluster" >&2
    exit 1
fi
export ZHIKU_TEST_DATABASE_URL="postgres://zhiku@127.0.0.1:$PORT/postgres"
# For tests that stop a database of their own under a running server.
export ZHIKU_TEST_PG_BIN="$BIN"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') for the tests at $ZHIKU_TEST_DATABASE_URL" >&2
"$@"
