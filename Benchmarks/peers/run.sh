#!/usr/bin/env bash
# Runs the ticket-triage workflow in the peer engines (LangGraph, SpiffWorkflow) for each N and
# writes one JSON document: {"langgraph": {"runs": [...]}, "spiffworkflow": {...}}. A peer that
# cannot be installed or fails gets {"error": "..."} instead of figures.
#
#   Benchmarks/peers/run.sh --n 1000,10000 --out peers.json [--scratch DIR]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ns=1000
out=/dev/stdout
scratch="$(mktemp -d)"
while (($#)); do
  case "$1" in
    --n) ns="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --scratch) scratch="$2"; shift 2 ;;
    *) echo "usage: $0 --n N[,N...] --out FILE [--scratch DIR]" >&2; exit 64 ;;
  esac
done
mkdir -p "$scratch"
venv="$here/.venv"
install_error=""
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import langgraph, langgraph.checkpoint.sqlite, SpiffWorkflow' 2>/dev/null; then
  echo "peers: creating $venv and installing $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')" >&2
  if ! python3 -m venv "$venv" >"$scratch/venv.log" 2>&1; then
    install_error="python3 -m venv failed: $(tail -1 "$scratch/venv.log")"
  elif ! "$venv/bin/pip" install -q -r "$here/requirements.txt" >"$scratch/pip.log" 2>&1; then
    install_error="pip install failed: $(tail -1 "$scratch/pip.log")"
  fi
fi

declare -A results
for peer in langgraph spiffworkflow; do
  script="$here/langgraph_ticket.py"
  [[ $peer == spiffworkflow ]] && script="$here/spiff_ticket.py"
  for n in ${ns//,/ }; do
    file="$scratch/$peer-$n.json"
    if [[ -n "$install_error" ]]; then
      printf '{"error": %s}\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$install_error")" >"$file"
      continue
    fi
    echo "peers: $peer N=$n" >&2
    if ! (cd "$here" && "$venv/bin/python" "$script" --n "$n" --db "$scratch/$peer-$n.db") >"$file" 2>"$file.err"; then
      printf '{"n": %s, "error": %s}\n' "$n" "$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read().strip().splitlines()[-1:] and open(sys.argv[1]).read().strip().splitlines()[-1] or "failed"))' "$file.err")" >"$file"
    fi
    rm -f "$scratch/$peer-$n.db" "$scratch/$peer-$n.db-wal" "$scratch/$peer-$n.db-shm"
  done
done

python3 - "$scratch" "$ns" >"$out" <<'PY'
import json, sys
scratch, ns = sys.argv[1], [int(n) for n in sys.argv[2].split(",")]
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
print(json.dumps(doc, indent=2))
PY
