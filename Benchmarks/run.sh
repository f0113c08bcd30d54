#!/usr/bin/env bash
# Measures Steward and its peer engines in one run and prints the comparison (see BENCHMARKS.md).
#
#   Benchmarks/run.sh [--n 1000,10000] [--peer-n LIST] [--quick] [--no-peers] [--results DIR]
#
#   --n LIST     instance counts for the triage workflow, Steward and peers alike (default
#                1000,10000; add 100000 for the memory target: Steward takes minutes, the peers
#                much longer)
#   --peer-n     instance counts for the peers (default: the --n list); ratios are printed
#                for every N both ran
#   --quick      N=1000 only, fewer iterations and samples: a smoke run of every benchmark
#   --no-peers   skip the peers (LangGraph, SpiffWorkflow, DBOS on SQLite and PostgreSQL)
#   --results    where the JSON files go (default Benchmarks/results); results.json combines them
#
# Everything is built in release mode in Benchmarks/steward-bench/.build, a package of its own,
# so the root package's build and CI never compile the harness.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ns="1000,10000"
peer_ns=""
quick=0
peers=1
results="$root/Benchmarks/results"
invocation="Benchmarks/run.sh $*"
while (($#)); do
  case "$1" in
    --n) ns="$2"; shift 2 ;;
    --peer-n) peer_ns="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-peers) peers=0; shift ;;
    --results) results="$2"; shift 2 ;;
    *) sed -n '2,16p' "$0" >&2; exit 64 ;;
  esac
done
if ((quick)); then ns=1000; peer_ns=1000; fi
peer_ns="${peer_ns:-$ns}"
mkdir -p "$results"
rm -f "$results"/*.json
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
log() { echo "bench: $*" >&2; }

"$root/scripts/setup.sh"

# Build: the harness, the steward CLI and the Swift plugin, all release, in the harness package.
package="$root/Benchmarks/steward-bench"
log "building (release) in $package"
build() { swift build -c release --package-path "$package" --product "$1" 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3 >&2; }
build steward-bench
build steward
# Isolated plugins run in it (issue 13); found beside steward and steward-bench.
build steward-plugin-host
bin="$(swift build -c release --package-path "$package" --show-bin-path)"
# The Swift plugins' products, as their manifests name them (read by steward, the one reader).
for product in $(cd "$root" && "$bin/steward" plugins build --list-products); do build "$product"; done
bench="$bin/steward-bench"

# The shipped plugins, built from their manifests by `steward plugins build` itself (C plugins
# with the system compiler; Swift plugins are the release products beside that steward).
plugins="$scratch/plugins"
(cd "$root" && "$bin/steward" plugins build --force --into "$plugins" --libraries-into "$scratch/lib" >/dev/null)
# Plain C libraries for ffi states (the churn-score model) are found here, as in .steward/lib.
export STEWARD_LIBRARY_PATH="$scratch/lib"
log "plugins: $(ls "$plugins" | tr '\n' ' ')"
mkdir -p "$scratch/bench-plugin"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden -I "$root/Sources/StewardABI/include" \
  "$root/Benchmarks/plugin/bench.c" -o "$scratch/bench-plugin/libbench.so"

# Runs one measurement into results/NAME.json; a failure is recorded, never replaced by figures.
measure() {
  local name="$1"; shift
  log "$name"
  if ! "$@" >"$results/$name.json" 2>"$scratch/$name.err"; then
    local message
    message="$(tail -1 "$scratch/$name.err")"
    printf '{"error": %s}\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "${message:-failed}")" >"$results/$name.json"
    log "$name failed: $message"
  fi
}

template="$root/workflows/support-ticket-triage.yaml"
ticket2="$root/workflows/examples/ticket-2.json"
mem="$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
cpu="$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)"
measure fsync-probe "$bench" fsync-probe --db "$scratch/probe.db"
python3 - "$results/machine.json" "$(nproc)" "$mem" "$cpu" "$(swift --version 2>&1 | head -1)" "$invocation" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys, datetime
path, nproc, mem, cpu, swift, command, load = sys.argv[1:]
json.dump({"nproc": int(nproc), "memory": mem, "cpu": cpu, "swift": swift, "command": command,
           "loadavg_at_start": load, "date": datetime.datetime.now().isoformat(timespec="seconds")},
          open(path, "w"), indent=2)
PY

if ((quick)); then iterations=500000; samples=500; runs=5; else iterations=2000000; samples=3000; runs=10; fi
measure plugin-calls "$bench" plugin-calls --plugin "$scratch/bench-plugin/libbench.so" --iterations "$iterations"
# Process isolation (issue 13): round trips in process and in a host process, triage both ways,
# and a chaos batch whose step segfaults on 1% and hangs on 0.5% of its calls.
${CC:-cc} -std=c11 -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden -I "$root/Sources/StewardABI/include" \
  "$root/Tests/StewardPluginsTests/Fixtures/isolation_faults.c" -o "$scratch/bench-plugin/libfaults.so"
mkdir -p "$scratch/isolation"
measure isolation "$bench" isolation --bench-plugin "$scratch/bench-plugin/libbench.so" --faults-plugin "$scratch/bench-plugin/libfaults.so" \
  --plugins "$plugins" --libraries "$scratch/lib" --template "$template" --input "$ticket2" --scratch "$scratch/isolation" \
  --calls $((quick ? 9000 : 30000)) --triage-n $((quick ? 300 : 1000)) --chaos-n $((quick ? 500 : 2000))
rm -rf "$scratch/isolation"
# The engine's own overhead (issue 16): ten no-op C steps per instance against the same rows
# inserted straight through SQLite by raw-insert, in turns; allocations counted by a preloaded
# malloc counter (which the raw program, a child, carries too).
${CC:-cc} -std=c11 -O2 -Wall -Wextra "$root/Benchmarks/overhead/raw-insert.c" -lsqlite3 -o "$scratch/raw-insert"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -shared -fPIC "$root/Benchmarks/overhead/malloc-count.c" -o "$scratch/malloc-count.so"
mkdir -p "$scratch/overhead"
measure engine-overhead env LD_PRELOAD="$scratch/malloc-count.so" "$bench" overhead --n $((quick ? 5000 : 20000)) \
  --plugins "$scratch/bench-plugin" --scratch "$scratch/overhead" --raw "$scratch/raw-insert" --rounds $((quick ? 2 : 3))
rm -rf "$scratch/overhead"
for n in ${ns//,/ }; do
  measure "triage-$n" "$bench" triage --n "$n" --plugins "$plugins" --template "$template" --input "$ticket2" --db "$scratch/triage-$n.db" --libraries "$scratch/lib"
  rm -f "$scratch/triage-$n.db"*
done
# Like for like with the peers, which run one instance at a time in one thread.
measure triage-1000-c1 "$bench" triage --n 1000 --concurrency 1 --plugins "$plugins" --template "$template" --input "$ticket2" --db "$scratch/c1.db" --libraries "$scratch/lib"
# A migration in shadow: the same tickets for one customer with and without the candidate
# classifier called beside the served one (issue 11's overhead figure).
measure shadow-1000 "$bench" shadow --n 1000 --plugins "$plugins" --template "$template" --input "$ticket2" --db "$scratch/shadow.db" --libraries "$scratch/lib"
# Waiting at scale (issue 14): instances parked in wait and event states, a group of their
# timers due together, events delivered one at a time.
waits_n=100000; if ((quick)); then waits_n=2000; fi
mkdir -p "$scratch/waits"
measure waits "$bench" waits --n "$waits_n" --timers $((waits_n < 20000 ? waits_n / 2 : 10000)) --events 500 --plugins "$plugins" --scratch "$scratch/waits"
rm -rf "$scratch/waits"
# Event delivery over HTTP to a real `steward serve` (issue 14): POST -> committed, POST -> next step done.
mkdir -p "$scratch/event-http"
measure event-http "$bench" event-http --steward "$bin/steward" --plugins "$plugins" --scratch "$scratch/event-http" --n $((quick ? 200 : 1000))
rm -rf "$scratch/event-http"
# Several engines sharing one PostgreSQL database (issue 12), beside SQLite, all over HTTP: the
# triage template submitted to every engine, decisions one at a time, and a killed engine's
# instances taken over by the others.
# A folder of its own, not under $scratch: as root the server runs as the postgres user, who
# cannot enter the root-only scratch folder.
pg="$(mktemp -d)"
if pg_port="$("$root/Benchmarks/postgres-server.sh" start "$pg")"; then
  for engines in 1 2 3; do "$root/Benchmarks/postgres-server.sh" createdb "$pg" "scale$engines"; done
  mkdir -p "$scratch/scale-out"
  scale_n=$((quick ? 1000 : 3000))
  measure scale-out env STEWARD_KB_ARTICLES="$root/data/stackfaq/articles.json" STEWARD_MODEL_DIR="$root/Plugins/banking-intent/models" \
    "$bench" scale-out --steward "$bin/steward" --plugins "$plugins" --libraries "$scratch/lib" --template "$template" --input "$ticket2" \
    --scratch "$scratch/scale-out" --n "$scale_n" --decisions $((quick ? 100 : 300)) --config \
    "sqlite,1,sqlite:$scratch/scale-out/scale.db;postgres-1,1,postgres://steward@127.0.0.1:$pg_port/scale1;postgres-2,2,postgres://steward@127.0.0.1:$pg_port/scale2;postgres-3,3,postgres://steward@127.0.0.1:$pg_port/scale3"
  "$root/Benchmarks/postgres-server.sh" stop "$pg"
  rm -rf "$scratch/scale-out"
else
  log "scale-out skipped: no PostgreSQL server"
fi
measure resume "$bench" resume --samples "$samples" --plugins "$plugins" --template "$template" --input "$ticket2" --db "$scratch/resume.db" --libraries "$scratch/lib"
measure cold-start "$bench" cold-start --steward "$bin/steward" --root "$root" --plugins "$plugins" --scratch "$scratch" --runs "$runs"

if ((peers)); then
  log "peers (LangGraph, SpiffWorkflow, DBOS) for N=$peer_ns"
  "$root/Benchmarks/peers/run.sh" --n "$peer_ns" --out "$results/peers.json" --scratch "$scratch/peers" || log "peers failed"
fi
measure fsync-probe-end "$bench" fsync-probe --db "$scratch/probe.db"
python3 - "$results/machine.json" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); doc["loadavg_at_end"] = sys.argv[2]; json.dump(doc, open(sys.argv[1], "w"), indent=2)
PY
"$bench" report --results "$results"
log "JSON: $results/results.json"
