#!/usr/bin/env bash
# Runs the ticket-triage workflow in the peer engines (LangGraph, SpiffWorkflow, DBOS) for each N
# and writes one JSON document: {"langgraph": {"runs": [...]}, "spiffworkflow": {...},
# "dbos": {"runs": [...], "recovery_check": {...}}}. A peer (or one DBOS configuration) that
# cannot be installed or fails gets {"error": "..."} instead of figures.
#
#   Benchmarks/peers/run.sh --n 1000,10000 --out peers.json [--scratch DIR] [--no-dbos]
#
# DBOS runs in four configurations per N, each its own process and its own fresh system
# database: "database" sqlite|postgresql x "mode" sequential|queue (see dbos_ticket.py). For
# the PostgreSQL ones this script starts a throwaway server itself with
# Benchmarks/postgres-server.sh (initdb on a free loopback port, fsync and synchronous_commit
# on, trust auth) and removes it at the end; it takes no URL from the caller, so every run
# measures the same local server. If no server can be started, the PostgreSQL configurations
# get an "error" and the SQLite ones still run. DBOS on SQLite polls its system database for
# messages and events, every notification_listener_polling_interval_sec (DBOS default 1.0 s,
# i.e. ~1 s per wait); the runs here set it to $DBOS_SQLITE_POLL (default 0.01 s) and report
# it. Each poll re-checks every waiting workflow with a query of its own, so one-at-a-time on
# SQLite costs O(N^2) (~4 min at N=1000 here): it runs only up to $DBOS_SQLITE_SEQUENTIAL_MAX_N
# (default 2000) and larger N get an error entry saying so. A DBOS run that takes longer than
# $DBOS_TIMEOUT seconds (default 3600) is stopped and reported as an error.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ns=1000
out=/dev/stdout
scratch=""
dbos=1
while (($#)); do
  case "$1" in
    --n) ns="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    --no-dbos) dbos=0; shift ;;
    *) echo "usage: $0 --n N[,N...] --out FILE [--scratch DIR] [--no-dbos]" >&2; exit 64 ;;
  esac
done
own_scratch=0
if [[ -z "$scratch" ]]; then scratch="$(mktemp -d)"; own_scratch=1; fi
mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"
venv="$here/.venv"
install_error=""
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import langgraph, langgraph.checkpoint.sqlite, SpiffWorkflow, dbos' 2>/dev/null; then
  echo "peers: creating $venv and installing $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')" >&2
  if ! python3 -m venv "$venv" >"$scratch/venv.log" 2>&1; then
    install_error="python3 -m venv failed: $(tail -1 "$scratch/venv.log")"
  elif ! "$venv/bin/pip" install -q -r "$here/requirements.txt" >"$scratch/pip.log" 2>&1; then
    install_error="pip install failed: $(tail -1 "$scratch/pip.log")"
  fi
fi

json_string() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
# The last line of a failed run's stderr, as a JSON string.
last_error() {
  python3 -c 'import json,sys; lines=open(sys.argv[1]).read().strip().splitlines(); print(json.dumps(lines[-1] if lines else "failed"))' "$1"
}

for peer in langgraph spiffworkflow; do
  script="$here/langgraph_ticket.py"
  [[ $peer == spiffworkflow ]] && script="$here/spiff_ticket.py"
  for n in ${ns//,/ }; do
    file="$scratch/$peer-$n.json"
    if [[ -n "$install_error" ]]; then
      printf '{"error": %s}\n' "$(json_string "$install_error")" >"$file"
      continue
    fi
    echo "peers: $peer N=$n" >&2
    if ! (cd "$here" && "$venv/bin/python" "$script" --n "$n" --db "$scratch/$peer-$n.db") >"$file" 2>"$file.err"; then
      printf '{"n": %s, "error": %s}\n' "$n" "$(last_error "$file.err")" >"$file"
    fi
    rm -f "$scratch/$peer-$n.db" "$scratch/$peer-$n.db-wal" "$scratch/$peer-$n.db-shm"
  done
done

# DBOS: SQLite, then PostgreSQL on a server of its own.
dbos_sqlite_poll="${DBOS_SQLITE_POLL:-0.01}"
dbos_timeout="${DBOS_TIMEOUT:-3600}"
dbos_sqlite_sequential_max_n="${DBOS_SQLITE_SEQUENTIAL_MAX_N:-2000}"
pg_dir="" pg_port=""
stop_postgres() { if [[ -n "$pg_dir" ]]; then "$here/../postgres-server.sh" stop "$pg_dir"; pg_dir=""; fi; }
trap 'stop_postgres; if ((own_scratch)); then rm -rf "$scratch"; fi' EXIT
# One DBOS process: dbos_run FILE ARGS... (its JSON in FILE, or {"error": ...}).
dbos_run() {
  local file="$1" rc=0; shift
  (cd "$here" && timeout "$dbos_timeout" "$venv/bin/python" dbos_ticket.py "$@") >"$file" 2>"$file.err" || rc=$?
  if ((rc == 124)); then
    printf '{"error": %s}\n' "$(json_string "did not finish within $dbos_timeout s (DBOS_TIMEOUT)")" >"$file"
  elif ((rc != 0)); then
    printf '{"error": %s}\n' "$(last_error "$file.err")" >"$file"
  fi
  return $rc
}
# dbos_database_url NAME: a fresh system database for one run, on $database.
dbos_database_url() {
  if [[ $database == sqlite ]]; then
    rm -f "$scratch/dbos-$1.sqlite" "$scratch/dbos-$1.sqlite-journal"
    echo "sqlite:///$scratch/dbos-$1.sqlite"
  else
    "$here/../postgres-server.sh" createdb "$pg_dir" "$1" >&2 && echo "postgresql://steward@127.0.0.1:$pg_port/$1"
  fi
}
if ((dbos)); then
  for database in sqlite postgresql; do
    pg_args=() setup_error="$install_error"
    if [[ $database == postgresql && -z "$setup_error" ]]; then
      # Its own folder straight under the temporary directory: as root, postgres-server.sh
      # hands the folder to the postgres user, who must be able to reach it.
      pg_dir="$(mktemp -d)"
      if pg_port="$("$here/../postgres-server.sh" start "$pg_dir" 2>"$scratch/pg.err")"; then
        pg_args=(--postgres-pid-file "$pg_dir/data/postmaster.pid")
      else
        setup_error="no PostgreSQL server (Benchmarks/postgres-server.sh start): $(tail -1 "$scratch/pg.err")"
        rm -rf "$pg_dir"; pg_dir=""
      fi
    fi
    poll_args=()
    [[ $database == sqlite ]] && poll_args=(--notification-poll "$dbos_sqlite_poll")
    for mode in sequential queue; do
      for n in ${ns//,/ }; do
        file="$scratch/dbos-$database-$mode-$n.json"
        if [[ -n "$setup_error" ]]; then
          printf '{"error": %s}\n' "$(json_string "$setup_error")" >"$file"
        elif [[ $database == sqlite && $mode == sequential ]] && ((n > dbos_sqlite_sequential_max_n)); then
          printf '{"error": %s}\n' "$(json_string "not run: DBOS on SQLite re-polls every waiting workflow, so one workflow at a time grows with N^2; N > DBOS_SQLITE_SEQUENTIAL_MAX_N=$dbos_sqlite_sequential_max_n")" >"$file"
        else
          echo "peers: dbos $database $mode N=$n" >&2
          if url="$(dbos_database_url "${mode}_$n")"; then
            dbos_run "$file" --n "$n" --database-url "$url" --mode "$mode" "${poll_args[@]}" "${pg_args[@]}"
          else
            printf '{"error": %s}\n' "$(json_string "could not create the database ${mode}_$n")" >"$file"
          fi
          rm -f "$scratch/dbos-${mode}_$n.sqlite" "$scratch/dbos-${mode}_$n.sqlite-journal"
        fi
        # Keep the configuration's identity on an error entry too.
        python3 - "$file" "$n" "$database" "$mode" <<'PY'
import json, sys
path, n, database, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path) as f:
    run = json.load(f)
if "error" in run:
    run = {"n": n, "database": database, "mode": mode, **run}
    with open(path, "w") as f:
        json.dump(run, f)
PY
      done
    done
    # Durability: 20 workflows to the checkpoint, the process killed there (os._exit), then a
    # fresh process must resume them without running their steps again.
    file="$scratch/dbos-$database-recovery.json"
    if [[ -n "$setup_error" ]]; then
      printf '{"error": %s}\n' "$(json_string "$setup_error")" >"$file"
    else
      echo "peers: dbos $database recovery check" >&2
      if ! url="$(dbos_database_url recovery)"; then
        printf '{"error": %s}\n' "$(json_string "could not create the database recovery")" >"$file"
      elif ! dbos_run "$file.crash" --n 20 --database-url "$url" --recovery-phase crash "${poll_args[@]}"; then
        cp "$file.crash" "$file"
      elif ! dbos_run "$file.resume" --n 20 --database-url "$url" --recovery-phase resume "${poll_args[@]}"; then
        cp "$file.resume" "$file"
      else
        python3 - "$file.crash" "$file.resume" >"$file" <<'PY'
import json, sys
crash, resume = (json.load(open(p)) for p in sys.argv[1:3])
passed = (crash.get("executed") == {"intake": 20, "classify": 20, "route": 20, "draft_reply": 20}
          and resume.get("unfinished_after_restart") == 20 and resume.get("completed_after_decision") == 20
          and resume.get("executed_after_restart") == {"respond": 20})
print(json.dumps({"n": 20, "passed": passed,
                  "what": "20 workflows run to the checkpoint, then the process ends with os._exit (no shutdown); a new process "
                          "launches DBOS (which recovers them), sends the decisions and waits: no step of phase A may run again, "
                          "respond runs once each",
                  "before_kill": crash, "after_restart": resume}))
PY
      fi
      rm -f "$scratch/dbos-recovery.sqlite" "$scratch/dbos-recovery.sqlite-journal"
    fi
    [[ $database == postgresql ]] && stop_postgres
  done
fi

python3 - "$scratch" "$ns" "$dbos" >"$out" <<'PY'
import json, sys
scratch, ns, dbos = sys.argv[1], [int(n) for n in sys.argv[2].split(",")], sys.argv[3] == "1"
doc = {}
for peer in ("langgraph", "spiffworkflow"):
    runs, errors = [], []
    for n in ns:
        with open(f"{scratch}/{peer}-{n}.json") as f:
            run = json.load(f)
        (errors if "error" in run else runs).append(run)
    entry = {"runs": runs}
    if errors:
        entry["error"] = "; ".join(str(e["error"]) for e in errors)
    doc[peer] = entry
if dbos:
    runs, errors, recovery = [], [], {}
    for database in ("sqlite", "postgresql"):
        for mode in ("sequential", "queue"):
            for n in ns:
                with open(f"{scratch}/dbos-{database}-{mode}-{n}.json") as f:
                    run = json.load(f)
                (errors if "error" in run else runs).append(run)
        with open(f"{scratch}/dbos-{database}-recovery.json") as f:
            recovery[database] = json.load(f)
    entry = {"runs": runs, "recovery_check": recovery}
    if errors:
        entry["failed"] = errors
        entry["error"] = "; ".join(f"{e['database']} {e['mode']} N={e['n']}: {e['error']}" for e in errors)
    doc["dbos"] = entry
print(json.dumps(doc, indent=2))
PY
