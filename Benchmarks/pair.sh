#!/usr/bin/env bash
# Before/after on one machine, interleaved: the triage benchmark (N=1000 at concurrency 256,
# N=500 at concurrency 1) and the raw plugin call, for two checkouts of Steward, in rounds
# that alternate before and after, with the process's user+sys CPU time per step. Prints the
# medians, the spread and the ratios (see BENCHMARKS.md, "A fourth pair").
#
#   Benchmarks/pair.sh --before DIR --after DIR [--rounds R]
#
# Each checkout is built in release mode in its own Benchmarks/steward-bench (one after the
# other, never at once), with its plugins built by its own `steward plugins build` (Swift ones
# as release products, C ones against that checkout's header).
set -euo pipefail
rounds=3
while (($#)); do
  case "$1" in
    --before) before="$2"; shift 2 ;;
    --after) after="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) sed -n '2,12p' "$0" >&2; exit 64 ;;
  esac
done
: "${before:?--before DIR}" "${after:?--after DIR}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

prepare() {  # tree side
  local tree="$1" side="$2" package="$1/Benchmarks/steward-bench"
  echo "pair: building $side ($tree)" >&2
  swift build -c release --package-path "$package" --product steward-bench >/dev/null
  swift build -c release --package-path "$package" --product steward >/dev/null
  local bin; bin="$(swift build -c release --package-path "$package" --show-bin-path)"
  mkdir -p "$scratch/$side/plugins" "$scratch/$side/lib"
  if "$bin/steward" plugins build --help 2>&1 | grep -q -- '--into'; then
    # The checkout's own manifest reader and build path; Swift plugins as the release products.
    for product in $(cd "$tree" && "$bin/steward" plugins build --list-products); do
      swift build -c release --package-path "$package" --product "$product" >/dev/null
    done
    (cd "$tree" && "$bin/steward" plugins build --force --into "$scratch/$side/plugins" --libraries-into "$scratch/$side/lib" >/dev/null)
  else
    # A checkout from before `plugins build --into` (the pre-foundations b02face): its
    # manifests are read here the way its own Benchmarks/run.sh read them.
    for manifest in "$tree"/Plugins/*/steward-plugin.yaml; do
      local folder name product sources
      folder="$(dirname "$manifest")"
      name="$(sed -n 's/^name: *//p' "$manifest" | head -1)"
      product="$(sed -n 's/^product: *//p' "$manifest" | head -1)"
      sources="$(sed -n 's/^sources: *\[\(.*\)\]/\1/p' "$manifest" | tr -d ' ' | tr ',' ' ')"
      if [[ -n "$product" ]]; then
        swift build -c release --package-path "$package" --product "$product" >/dev/null
        cp "$bin/lib$product.so" "$scratch/$side/plugins/libsteward-$name.so"
      elif [[ "$name" == churn ]]; then
        (cd "$folder" && cc -std=c11 -O2 -shared -fPIC $sources -o "$scratch/$side/lib/libchurn.so" -lm)
      else
        (cd "$folder" && cc -std=c11 -O2 -shared -fPIC -fvisibility=hidden -I "$tree/Sources/StewardABI/include" $sources \
          -o "$scratch/$side/plugins/libsteward-$name.so" -lm)
      fi
    done
  fi
  cc -std=c11 -O2 -shared -fPIC -fvisibility=hidden -I "$tree/Sources/StewardABI/include" "$tree/Benchmarks/plugin/bench.c" \
    -o "$scratch/$side/libbench.so"
  echo "$bin/steward-bench" > "$scratch/$side/bench"
}
prepare "$before" before
prepare "$after" after

results="$scratch/pair.jsonl"
for round in $(seq 1 "$rounds"); do
  for side in before after; do
    tree="$before"; [[ $side == after ]] && tree="$after"
    bench="$(cat "$scratch/$side/bench")"
    for concurrency in 256 1; do
      n=1000; ((concurrency == 1)) && n=500
      rm -f "$scratch/db.db"*
      (cd "$tree" && STEWARD_LIBRARY_PATH="$scratch/$side/lib" /usr/bin/time -f "%U %S" -o "$scratch/time" \
        "$bench" triage --n "$n" --concurrency "$concurrency" --plugins "$scratch/$side/plugins" --libraries "$scratch/$side/lib" \
        --template workflows/support-ticket-triage.yaml --input workflows/examples/ticket-2.json --db "$scratch/db.db" \
        >"$scratch/triage.json" 2>/dev/null)
      python3 - "$side" "$concurrency" "$scratch" >>"$results" <<'PY'
import json, sys
side, concurrency, scratch = sys.argv[1], int(sys.argv[2]), sys.argv[3]
doc = json.load(open(f"{scratch}/triage.json"))
user, system = map(float, open(f"{scratch}/time").read().split())
steps = doc["overall"]["steps"]
print(json.dumps({"side": side, "c": concurrency, "steps_per_s": doc["overall"]["steps_per_s"],
                  "cpu_us_per_step": (user + system) * 1e6 / steps,
                  "bytes": doc["disk"]["bytes_per_completed_instance"],
                  "rss_mb": doc["memory"]["peak_rss_with_n_waiting_bytes"] / 1e6}))
PY
    done
    "$bench" plugin-calls --plugin "$scratch/$side/libbench.so" --iterations 300000 --repeats 3 2>/dev/null | python3 -c "
import json, sys
cases = json.load(sys.stdin)['cases']
print(json.dumps({'side': '$side', 'call_noop_ns': cases['noop']['ns_per_call']['steward_abi'],
                  'call_300b_ns': cases['json_300b']['ns_per_call']['steward_abi']}))" >>"$results"
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def pick(side, key, c):
    return [r[key] for r in rows if r["side"] == side and key in r and (c is None or r.get("c") == c)]
print(f"{'measure':34} {'before':>26} {'after':>26} {'after/before':>13}")
for key, c, label in [("steps_per_s", 256, "triage c=256 steps/s"), ("cpu_us_per_step", 256, "triage c=256 CPU us/step"),
                      ("steps_per_s", 1, "triage c=1 steps/s"), ("cpu_us_per_step", 1, "triage c=1 CPU us/step"),
                      ("bytes", 256, "bytes per completed instance"), ("rss_mb", 256, "peak RSS MB (N=1000)"),
                      ("call_noop_ns", None, "callRaw no-op ns"), ("call_300b_ns", None, "callRaw 300 B ns")]:
    b, a = pick("before", key, c), pick("after", key, c)
    if not b or not a:
        continue
    fmt = lambda v: f"{statistics.median(v):.1f} [{min(v):.1f}-{max(v):.1f}]"
    print(f"{label:34} {fmt(b):>26} {fmt(a):>26} {statistics.median(a) / statistics.median(b):>13.3f}")
PY
