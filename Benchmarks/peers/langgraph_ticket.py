"""The ticket-triage workflow in LangGraph, durable with SqliteSaver, paused with interrupt().

intake -> (word_count < 2: end) -> classify -> route -> draft_reply -> review (interrupt when
P1 or uncertain) -> respond. Phase A invokes N threads until they pause at review; phase B
resumes each with Command(resume=decision) and runs it to the end. Checkpoints are written by
SqliteSaver after every super-step with LangGraph's default durability ("async"), one thread
per instance, one process, sequentially -- the way the LangGraph docs run a graph.

Prints one JSON document (same shape as steward-bench triage).
"""

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from importlib.metadata import version
from typing import Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

import ticket_steps as steps


class Ticket(TypedDict, total=False):
    input: dict
    ticket: dict
    classification: dict
    routing: dict
    reply: dict
    review: dict
    delivery: dict
    status: str


def intake(state: Ticket, config) -> dict:
    return {"ticket": steps.normalize(state["input"])}


def classify(state: Ticket) -> dict:
    return {"classification": steps.classify(state["ticket"]["text"])}


def route(state: Ticket) -> dict:
    return {"routing": steps.route(state["classification"]["category"], steps.CONFIG["routing"])}


def draft_reply(state: Ticket) -> dict:
    name = (state["input"].get("customer") or {}).get("name")
    return {"reply": steps.draft_reply(state["classification"]["category"], state["ticket"]["subject"], name,
                                       steps.CONFIG["replies"])}


def review(state: Ticket) -> dict:
    if not steps.needs_review(state["routing"], state["classification"]):
        return {"review": {"decision": "approve", "automatic": True}}
    decision = interrupt({"checkpoint": "review_reply", "subject": state["reply"]})
    if decision.get("decision") == "edit":
        return {"review": decision, "reply": decision["output"]}
    return {"review": decision}


def respond(state: Ticket, config) -> dict:
    key = config["configurable"]["thread_id"] + "/respond/1"
    return {"delivery": steps.send_reply(state["reply"], state["ticket"]["channel"], key), "status": "completed"}


def rejected(state: Ticket) -> dict:
    return {"status": "rejected"}


def build(checkpointer):
    graph = StateGraph(Ticket)
    for name, fn in [("intake", intake), ("classify", classify), ("route", route), ("draft_reply", draft_reply),
                     ("review", review), ("respond", respond), ("rejected", rejected)]:
        graph.add_node(name, fn)
    graph.add_edge(START, "intake")
    graph.add_conditional_edges("intake", lambda s: "rejected" if s["ticket"]["word_count"] < 2 else "classify")
    graph.add_edge("classify", "route")
    graph.add_edge("route", "draft_reply")
    graph.add_edge("draft_reply", "review")
    graph.add_conditional_edges("review", lambda s: "rejected" if s["review"]["decision"] == "reject" else "respond")
    graph.add_edge("respond", END)
    graph.add_edge("rejected", END)
    return graph.compile(checkpointer=checkpointer)


def run(n, path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    app = build(saver)
    ticket = steps.load_ticket()

    cpu0 = steps.cpu_seconds()
    start = time.perf_counter()
    for i in range(n):
        out = app.invoke({"input": ticket}, {"configurable": {"thread_id": "t%08d" % i}})
        if "__interrupt__" not in out:
            raise SystemExit("instance %d did not pause at review: %r" % (i, out))
    seconds_a = time.perf_counter() - start
    cpu_a = steps.cpu_seconds() - cpu0
    checkpoints_a = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]

    decision = {"decision": "approve", "reviewer": "rv-bench", "credential": "support-agent"}
    cpu0 = steps.cpu_seconds()
    start = time.perf_counter()
    for i in range(n):
        out = app.invoke(Command(resume=decision), {"configurable": {"thread_id": "t%08d" % i}})
        if out.get("status") != "completed":
            raise SystemExit("instance %d did not complete: %r" % (i, out))
    seconds_b = time.perf_counter() - start
    cpu_b = steps.cpu_seconds() - cpu0
    checkpoints_b = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] - checkpoints_a

    journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = steps.sqlite_file_bytes(path)
    return {
        "n": n,
        "sqlite": {"journal_mode": journal_mode, "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, synchronous),
                   "durability": "async (LangGraph default)"},
        "phase_a": {"seconds": round(seconds_a, 3), "instances_per_s": round(n / seconds_a, 1),
                    "steps_per_s": round(4 * n / seconds_a, 1), "cpu_us_per_step": round(cpu_a * 1e6 / (4 * n), 1), "checkpoints": checkpoints_a},
        "phase_b": {"seconds": round(seconds_b, 3), "instances_per_s": round(n / seconds_b, 1),
                    "steps_per_s": round(n / seconds_b, 1), "cpu_us_per_step": round(cpu_b * 1e6 / n, 1), "checkpoints": checkpoints_b},
        "overall": {"steps": 5 * n, "steps_per_s": round(5 * n / (seconds_a + seconds_b), 1),
                    "cpu_us_per_step": round((cpu_a + cpu_b) * 1e6 / (5 * n), 1)},
        "disk": {"bytes": size, "bytes_per_completed_instance": round(size / n, 1)},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(prefix="lg-bench-"), "langgraph.db")
    result = run(args.n, path)
    result["version"] = {"langgraph": version("langgraph"), "langgraph-checkpoint-sqlite": version("langgraph-checkpoint-sqlite")}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
