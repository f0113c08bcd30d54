#!/usr/bin/env bash
# Eval-run throughput: 3,000 triage cases (the shipped banking77 held-out set, cycled with
# fresh ids) through `steward eval run` in a release build, for both classifier versions,
# with the cases one at a time as the baseline of the same run. Prints cases/s and ratios.
#
#   Benchmarks/eval.sh [--cases 3000]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cases=3000
while (($#)); do
  case "$1" in
    --cases) cases="$2"; shift 2 ;;
    *) sed -n '2,7p' "$0" >&2; exit 64 ;;
  esac
done
cd "$root"
swift build -c release --product steward >/dev/null 2>&1
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
python3 - "$cases" "$scratch/cases.jsonl" <<'PY'
import json, sys
count, out = int(sys.argv[1]), sys.argv[2]
lines = open("evals/support-ticket-triage/banking77-heldout.jsonl").read().splitlines()
with open(out, "w") as f:
    for i in range(count):
        case = json.loads(lines[i % len(lines)])
        case["id"] = f"{case['id']}-r{i // len(lines)}"
        f.write(json.dumps(case) + "\n")
PY
run() {  # version concurrency -> "cases_per_second wall_seconds accuracy"
  local start end
  start=$(date +%s.%N)
  .build/release/steward eval run support-ticket-triage --dataset "$scratch/cases.jsonl" --db "$scratch/bench.db" \
    --bind "classifier=banking-intent@$1" --concurrency "$2" --json >"$scratch/run.json" 2>/dev/null || true
  end=$(date +%s.%N)
  python3 - "$scratch/run.json" "$start" "$end" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
seconds = (run["finished_at"] - run["started_at"]) / 1000
accuracy = next(m["value"] for m in run["metrics"] if m["name"] == "intent_accuracy")
print(f"{len(run['cases']) / seconds:.0f} {float(sys.argv[3]) - float(sys.argv[2]):.2f} {accuracy:.4f}")
PY
}
printf '%-22s %12s %12s %14s %10s\n' "classifier" "in flight" "cases/s" "command wall s" "accuracy"
for version in 2.0.0 1.0.0; do
  read -r base base_wall base_acc < <(run "$version" 1)
  read -r many many_wall many_acc < <(run "$version" 32)
  printf '%-22s %12s %12s %14s %10s\n' "banking-intent@$version" 1 "$base" "$base_wall" "$base_acc"
  printf '%-22s %12s %12s %14s %10s   %.2fx the one-at-a-time run\n' "banking-intent@$version" 32 "$many" "$many_wall" "$many_acc" "$(python3 -c "print($many / $base)")"
done
