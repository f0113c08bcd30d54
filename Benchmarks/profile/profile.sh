#!/usr/bin/env bash
# CPU profile of the triage benchmark with perf (software clock; no hardware counters needed),
# attributed to Steward's hot spots by attribute.py. Run Benchmarks/run.sh once first (it builds
# the harness); needs `perf` (Debian: linux-perf).
#
#   Benchmarks/profile/profile.sh [N]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n="${1:-2000}"
bin="$(swift build -c release --package-path "$root/Benchmarks/steward-bench" --show-bin-path)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins"
cc -std=c11 -O2 -shared -fPIC -fvisibility=hidden -I "$root/Sources/StewardABI/include" \
  "$root/Plugins/keywords/keywords.c" -o "$work/plugins/libsteward-keywords.so"
cp "$bin/libStewardSupportPlugin.so" "$work/plugins/libsteward-support.so"
perf record -q -e cpu-clock -F 499 --call-graph dwarf,32768 -o "$work/perf.data" \
  "$bin/steward-bench" triage --n "$n" --plugins "$work/plugins" \
  --template "$root/workflows/support-ticket-triage.yaml" --input "$root/workflows/examples/ticket-2.json" \
  --db "$work/profile.db" >"$work/triage.json"
perf script -i "$work/perf.data" 2>/dev/null >"$work/perf.txt"
python3 "$(dirname "$0")/attribute.py" "$work/perf.txt" "$((7 * n))"
