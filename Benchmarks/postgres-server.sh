#!/usr/bin/env bash
# A throwaway PostgreSQL server for the benchmarks (the tests start theirs from Swift, with the
# same settings: Sources/StewardTesting/PostgresServer.swift).
#   Benchmarks/postgres-server.sh start DIR   initdb into DIR, start on a free loopback port, print the port
#   Benchmarks/postgres-server.sh stop DIR    stop it and remove DIR
#   Benchmarks/postgres-server.sh createdb DIR NAME
set -euo pipefail
command="$1" dir="$2"
bin="${STEWARD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[[ -x "$bin/initdb" ]] || { echo "no PostgreSQL server binaries: run scripts/setup.sh" >&2; exit 1; }
as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$command" in
  start)
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U steward --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB -c fsync=on -c synchronous_commit=on" start >/dev/null
    echo "$port" >"$dir/port"
    echo "$port"
    ;;
  createdb)
    "$bin/createdb" -h 127.0.0.1 -p "$(cat "$dir/port")" -U steward "$3"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop|createdb DIR [NAME]" >&2; exit 64 ;;
esac
