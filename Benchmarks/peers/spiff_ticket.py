"""The ticket-triage workflow in SpiffWorkflow (ticket.bpmn: script tasks, gateways, a user
task for the review), with the serialized workflow stored in SQLite.

Persistence follows the way SpiffWorkflow applications (spiff-arena) store a workflow: after
every completed script task and when the engine stops (waiting at the user task, or finished),
the workflow is serialized with BpmnWorkflowSerializer and written to its row in one committed
SQLite transaction (WAL; synchronous left at SQLite's default, reported below). Phase A creates
N workflows and runs them to the user task; phase B loads each from SQLite, completes the user
task with the decision and runs it to the end. One process, sequentially.

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

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import ScriptTask, UserTask
from SpiffWorkflow.util.task import TaskState

import ticket_steps as steps

HERE = os.path.dirname(os.path.abspath(__file__))

ENGINE = PythonScriptEngine(environment=TaskDataEnvironment({
    "normalize": steps.normalize, "classify": steps.classify, "route": steps.route,
    "draft_reply": steps.draft_reply, "send_reply": steps.send_reply, "needs_review": steps.needs_review,
    "CONFIG": steps.CONFIG,
}))


class Store:
    def __init__(self, path):
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS workflows (id TEXT PRIMARY KEY, status TEXT NOT NULL, state TEXT NOT NULL)")
        self.conn.commit()
        self.serializer = BpmnWorkflowSerializer()
        self.saves = 0

    def save(self, instance_id, workflow):
        status = "completed" if workflow.is_completed() else "waiting"
        self.conn.execute("INSERT INTO workflows (id, status, state) VALUES (?, ?, ?) "
                          "ON CONFLICT(id) DO UPDATE SET status = excluded.status, state = excluded.state",
                          (instance_id, status, self.serializer.serialize_json(workflow)))
        self.conn.commit()
        self.saves += 1

    def load(self, instance_id):
        (state,) = self.conn.execute("SELECT state FROM workflows WHERE id = ?", (instance_id,)).fetchone()
        workflow = self.serializer.deserialize_json(state)
        workflow.script_engine = ENGINE
        return workflow


def run_engine(store, instance_id, workflow):
    """Runs engine tasks, committing after each script task, then once more where it stops."""
    def saved(task):
        if isinstance(task.task_spec, ScriptTask):
            store.save(instance_id, workflow)
    workflow.do_engine_steps(did_complete_task=saved)
    store.save(instance_id, workflow)


def run(n, path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    parser = BpmnParser()
    parser.add_bpmn_file(os.path.join(HERE, "ticket.bpmn"))
    spec = parser.get_spec("ticket_triage")
    store = Store(path)
    ticket = steps.load_ticket()

    cpu0 = steps.cpu_seconds()
    start = time.perf_counter()
    for i in range(n):
        instance_id = "t%08d" % i
        workflow = BpmnWorkflow(spec, script_engine=ENGINE)
        workflow.get_tasks(state=TaskState.READY)[0].data.update({"input": ticket, "instance_id": instance_id})
        run_engine(store, instance_id, workflow)
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if len(ready) != 1 or ready[0].task_spec.name != "review_reply":
            raise SystemExit("instance %d did not stop at review_reply" % i)
    seconds_a = time.perf_counter() - start
    cpu_a = steps.cpu_seconds() - cpu0
    saves_a = store.saves

    decision = {"decision": "approve", "reviewer": "rv-bench", "credential": "support-agent"}
    cpu0 = steps.cpu_seconds()
    start = time.perf_counter()
    for i in range(n):
        instance_id = "t%08d" % i
        workflow = store.load(instance_id)
        (task,) = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.data["review"] = decision
        task.run()
        run_engine(store, instance_id, workflow)
        if not workflow.is_completed() or "delivery" not in workflow.last_task.data:
            raise SystemExit("instance %d did not complete" % i)
    seconds_b = time.perf_counter() - start
    cpu_b = steps.cpu_seconds() - cpu0

    conn = store.conn
    journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = steps.sqlite_file_bytes(path)
    return {
        "n": n,
        "sqlite": {"journal_mode": journal_mode, "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, synchronous),
                   "durability": "commit after each script task and where the engine stops"},
        "phase_a": {"seconds": round(seconds_a, 3), "instances_per_s": round(n / seconds_a, 1),
                    "steps_per_s": round(4 * n / seconds_a, 1), "cpu_us_per_step": round(cpu_a * 1e6 / (4 * n), 1), "commits": saves_a},
        "phase_b": {"seconds": round(seconds_b, 3), "instances_per_s": round(n / seconds_b, 1),
                    "steps_per_s": round(n / seconds_b, 1), "cpu_us_per_step": round(cpu_b * 1e6 / n, 1), "commits": store.saves - saves_a},
        "overall": {"steps": 5 * n, "steps_per_s": round(5 * n / (seconds_a + seconds_b), 1),
                    "cpu_us_per_step": round((cpu_a + cpu_b) * 1e6 / (5 * n), 1)},
        "disk": {"bytes": size, "bytes_per_completed_instance": round(size / n, 1),
                 "note": "latest serialized state per instance (SpiffWorkflow keeps its task history in it)"},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(prefix="spiff-bench-"), "spiff.db")
    result = run(args.n, path)
    result["version"] = {"SpiffWorkflow": version("SpiffWorkflow")}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
