"""The ticket-triage workflow in DBOS (dbos-transact-py): the steps of ticket_steps.py as
@DBOS.step functions inside one @DBOS.workflow, durable in DBOS's system database (SQLite or
PostgreSQL, chosen by --database-url).

intake -> (word_count < 2: rejected) -> classify -> route -> draft_reply -> review: when P1 or
uncertain the workflow publishes that it reached the review_reply checkpoint with
DBOS.set_event and waits for the human decision with DBOS.recv; the driver learns that it is
there with DBOS.get_event and decides with DBOS.send. This is the human-in-the-loop pattern
DBOS documents (docs.dbos.dev, "Reliable Human-in-the-Loop" and the "AI Agent Inbox" example:
recv with a long timeout in the workflow, set_event to publish the status, send from outside).
Every step's output, the event, the recv (its deadline and the message it consumed) and the
workflow's result are committed to the system database before the workflow goes on, so a
process killed at the checkpoint resumes there (--recovery-phase crash, then resume, shows it;
run.sh runs that check) -- DBOS's own durability, nothing this script adds.

Phase A starts N workflows and waits until each has published the checkpoint; phase B sends
each its decision and waits until it has completed. Modes:

  sequential  one workflow at a time, like the other peers: start it (DBOS.start_workflow),
              wait for its checkpoint event, start the next; then send one decision and wait
              for that workflow's result before the next.
  queue       the concurrent configuration: DBOS's documented way to run many workflows at
              once is a queue ("Queues & Concurrency" in the DBOS Python docs), so every ticket
              is enqueued at once (DBOS.register_queue + DBOS.enqueue_workflow) and the queue
              thread dequeues them and runs them concurrently on DBOS's executor threads; then
              every decision is sent and every result awaited. The queue has no
              worker_concurrency limit unless --worker-concurrency is given, because DBOS
              counts a workflow waiting in DBOS.recv against that limit: with a limit below N,
              phase A stops after that many tickets (they hold every slot while they wait for
              their human), so a limit only works here when it is >= N. The async API
              (async workflows, recv_async) was not chosen: DBOS runs each of its database
              calls from a coroutine in a thread (asyncio.to_thread), so it does the same
              database work with an extra hop, and these steps are plain CPU work.

Waiting (get_event in the driver, recv in the workflow) is woken by LISTEN/NOTIFY on
PostgreSQL. On SQLite DBOS has no notifications: a background thread re-checks every waiting
recv and get_event with one query each, every notification_listener_polling_interval_sec
(DBOS default 1.0 s, so each wait takes up to a second). --notification-poll sets it; run.sh
uses 0.01 s on SQLite and reports it. That thread's work grows with the number of workflows
waiting at the checkpoint, and it is part of the CPU measured.

Prints one JSON document (same shape as steward-bench triage and the other peers, plus CPU:
user+sys of this process, all its threads, per step; on PostgreSQL the server's CPU as well).
"""

import argparse
import json
import os
import sys
import threading
import time
from importlib.metadata import version

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, SetWorkflowID

import ticket_steps as steps

CHECKPOINT_KEY = "checkpoint"
REVIEW_TOPIC = "review_reply"
# DBOS.recv's default timeout is 60 s; a human may take days. The deadline is recorded durably.
REVIEW_TIMEOUT_SECONDS = 7 * 24 * 3600
QUEUE_NAME = "ticket_triage"


class Executions:
    """How often each step body really ran in this process: a replayed step does not count."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def ran(self, name):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


EXECUTED = Executions()


@DBOS.step()
def intake(raw):
    EXECUTED.ran("intake")
    return steps.normalize(raw)


@DBOS.step()
def classify(text):
    EXECUTED.ran("classify")
    return steps.classify(text)


@DBOS.step()
def route(category):
    EXECUTED.ran("route")
    return steps.route(category, steps.CONFIG["routing"])


@DBOS.step()
def draft_reply(category, subject, name):
    EXECUTED.ran("draft_reply")
    return steps.draft_reply(category, subject, name, steps.CONFIG["replies"])


@DBOS.step()
def respond(reply, channel, idempotency_key):
    EXECUTED.ran("respond")
    return steps.send_reply(reply, channel, idempotency_key)


@DBOS.workflow()
def ticket_triage(raw):
    ticket = intake(raw)
    if ticket["word_count"] < 2:
        return {"status": "rejected", "reason": "too short"}
    classification = classify(ticket["text"])
    routing = route(classification["category"])
    reply = draft_reply(classification["category"], ticket["subject"], (raw.get("customer") or {}).get("name"))
    if steps.needs_review(routing, classification):
        DBOS.set_event(CHECKPOINT_KEY, {"checkpoint": "review_reply", "reply": reply, "routing": routing})
        review = DBOS.recv(REVIEW_TOPIC, timeout_seconds=REVIEW_TIMEOUT_SECONDS)
        if review is None:
            return {"status": "review_timed_out"}
        if review.get("decision") == "reject":
            return {"status": "rejected", "review": review}
        if review.get("decision") == "edit":
            reply = review["output"]
    else:
        review = {"decision": "approve", "automatic": True}
    delivery = respond(reply, ticket["channel"], DBOS.workflow_id + "/respond/1")
    return {"status": "completed", "review": review, "delivery": delivery}


DECISION = {"decision": "approve", "reviewer": "rv-bench", "credential": "support-agent"}


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


class PostgresServerCPU:
    """User+sys CPU of the PostgreSQL server's processes (postmaster and its children: the
    backends serving DBOS's connections, the WAL writer, ...), read from /proc."""

    def __init__(self, pid_file):
        with open(pid_file) as f:
            self.postmaster = int(f.readline())
        self.ticks = os.sysconf("SC_CLK_TCK")

    def seconds(self):
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry), int(fields[1])
            if pid == self.postmaster or ppid == self.postmaster:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.ticks


def launch(url, name, notification_poll):
    config: DBOSConfig = {
        "name": name,
        "system_database_url": url,
        "log_level": "WARNING",
    }
    if notification_poll is not None:
        config["notification_listener_polling_interval_sec"] = notification_poll
    DBOS(config=config)
    DBOS.launch()


class Inspector:
    """A connection of its own to the system database, for the figures DBOS does not report
    (size, rows written, settings); not used by the workflows."""

    def __init__(self, url):
        self.url = url
        self.sqlite_path = url.split("///", 1)[1] if url.startswith("sqlite") else None
        self.engine = sa.create_engine(url, poolclass=sa.NullPool)
        self.schema = "" if self.sqlite_path else "dbos."

    def scalar(self, sql):
        with self.engine.connect() as c:
            return c.exec_driver_sql(sql).scalar()

    def database_bytes(self):
        if self.sqlite_path:
            return steps.sqlite_file_bytes(self.sqlite_path)
        return self.scalar("SELECT pg_database_size(current_database())")

    def recorded_operations(self):
        return self.scalar(f"SELECT count(*) FROM {self.schema}operation_outputs")

    def settings(self):
        if self.sqlite_path:
            synchronous = self.scalar("PRAGMA synchronous")
            return {"journal_mode": self.scalar("PRAGMA journal_mode"),
                    "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, synchronous),
                    "note": "as DBOS opens its SQLite system database: it sets no journal_mode or synchronous pragma, "
                            "so SQLite's defaults apply (read here on a connection of the same library)"}
        return {name: self.scalar(f"SHOW {name}") for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method")}


def disk(db, size, before, n):
    if db.sqlite_path:
        return {"bytes": size, "bytes_per_completed_instance": round(size / n, 1),
                "note": "the SQLite system database file after the run (workflow status, every step output, events, messages), "
                        "DBOS's empty schema (%d bytes before the run) included, as for the other peers" % before}
    return {"bytes": size - before, "bytes_per_completed_instance": round((size - before) / n, 1),
            "database_bytes_before_run": before, "database_bytes_after_run": size,
            "note": "pg_database_size after the run minus before it (the database with DBOS's empty schema and "
                    "PostgreSQL's catalog): what the run added, tables and indexes, not counting PostgreSQL's WAL"}


def wait_checkpoint(wid):
    event = DBOS.get_event(wid, CHECKPOINT_KEY, timeout_seconds=300)
    if not event or event.get("checkpoint") != "review_reply":
        raise SystemExit("instance %s did not reach review_reply: %r" % (wid, event))


def check_completed(wid, out):
    if not out or out.get("status") != "completed" or not out["delivery"].get("sent"):
        raise SystemExit("instance %s did not complete: %r" % (wid, out))


def run(args):
    ticket = steps.load_ticket()
    n = args.n
    ids = ["t%08d" % i for i in range(n)]
    pg_cpu = PostgresServerCPU(args.postgres_pid_file) if args.postgres_pid_file else None
    if args.mode == "queue":
        DBOS.register_queue(QUEUE_NAME, worker_concurrency=args.worker_concurrency,
                                    polling_interval_sec=args.queue_poll)
    db = Inspector(args.database_url)
    bytes_before = db.database_bytes()
    ops_before = db.recorded_operations()
    handles = {}

    cpu0, pg0 = steps.cpu_seconds(), pg_cpu.seconds() if pg_cpu else 0.0
    start = time.perf_counter()
    if args.mode == "sequential":
        for wid in ids:
            with SetWorkflowID(wid):
                handles[wid] = DBOS.start_workflow(ticket_triage, ticket)
            wait_checkpoint(wid)
    else:
        for wid in ids:
            with SetWorkflowID(wid):
                handles[wid] = DBOS.enqueue_workflow(QUEUE_NAME, ticket_triage, ticket)
        for wid in ids:
            wait_checkpoint(wid)
    seconds_a = time.perf_counter() - start
    cpu_a = steps.cpu_seconds() - cpu0
    pg_a = (pg_cpu.seconds() - pg0) if pg_cpu else None
    ops_a = db.recorded_operations() - ops_before
    executed_a = EXECUTED.snapshot()
    peak_rss, threads_waiting = peak_rss_bytes(), threading.active_count()

    cpu0, pg0 = steps.cpu_seconds(), pg_cpu.seconds() if pg_cpu else 0.0
    start = time.perf_counter()
    if args.mode == "sequential":
        for wid in ids:
            DBOS.send(wid, DECISION, topic=REVIEW_TOPIC)
            check_completed(wid, handles[wid].get_result())
    else:
        for wid in ids:
            DBOS.send(wid, DECISION, topic=REVIEW_TOPIC)
        for wid in ids:
            check_completed(wid, handles[wid].get_result(polling_interval_sec=args.result_poll))
    seconds_b = time.perf_counter() - start
    cpu_b = steps.cpu_seconds() - cpu0
    pg_b = (pg_cpu.seconds() - pg0) if pg_cpu else None
    ops_b = db.recorded_operations() - ops_before - ops_a
    executed = EXECUTED.snapshot()

    expected_a = {name: n for name in ("intake", "classify", "route", "draft_reply")}
    if executed_a != expected_a or executed != dict(expected_a, respond=n):
        raise SystemExit("step bodies ran %r after phase A and %r in all, expected each once per instance" % (executed_a, executed))
    sample = [s["function_name"] for s in DBOS.list_workflow_steps(ids[0])]

    size = db.database_bytes()
    steps_a, steps_b = 4 * n, n
    result = {
        "n": n,
        "database": "sqlite" if args.database_url.startswith("sqlite") else "postgresql",
        "mode": args.mode,
        "configuration": {
            "driver": {"sequential": "one workflow at a time: DBOS.start_workflow, DBOS.get_event; DBOS.send, handle.get_result()",
                       "queue": "every workflow enqueued at once (DBOS.enqueue_workflow), every checkpoint awaited; every decision sent, every result awaited"}[args.mode],
            "worker_concurrency": args.worker_concurrency if args.mode == "queue" else None,
            "queue_polling_interval_sec": args.queue_poll if args.mode == "queue" else None,
            "notification_listener_polling_interval_sec": args.notification_poll if args.notification_poll is not None else "default (1.0)",
            "notifications": "polled" if args.database_url.startswith("sqlite") else "LISTEN/NOTIFY (default)",
        },
        "database_settings": db.settings(),
        "phase_a": {"seconds": round(seconds_a, 3), "instances_per_s": round(n / seconds_a, 1),
                    "steps_per_s": round(steps_a / seconds_a, 1), "recorded_operations": ops_a,
                    "cpu_us_per_step": round(cpu_a * 1e6 / steps_a, 1)},
        "phase_b": {"seconds": round(seconds_b, 3), "instances_per_s": round(n / seconds_b, 1),
                    "steps_per_s": round(steps_b / seconds_b, 1), "recorded_operations": ops_b,
                    "cpu_us_per_step": round(cpu_b * 1e6 / steps_b, 1)},
        "overall": {"steps": steps_a + steps_b, "steps_per_s": round((steps_a + steps_b) / (seconds_a + seconds_b), 1),
                    "cpu_us_per_step": round((cpu_a + cpu_b) * 1e6 / (steps_a + steps_b), 1),
                    "cpu_seconds": round(cpu_a + cpu_b, 3)},
        "recorded_per_instance": sample,
        "memory": {"peak_rss_with_n_waiting_bytes": peak_rss, "threads_with_n_waiting": threads_waiting,
                   "note": "VmHWM after phase A; a workflow waiting in DBOS.recv holds one of DBOS's executor threads"},
        "disk": disk(db, size, bytes_before, n),
    }
    if pg_cpu:
        for key, cpu, count in (("phase_a", pg_a, steps_a), ("phase_b", pg_b, steps_b)):
            result[key]["postgres_server_cpu_us_per_step"] = round(cpu * 1e6 / count, 1)
        result["overall"]["postgres_server_cpu_us_per_step"] = round((pg_a + pg_b) * 1e6 / (steps_a + steps_b), 1)
        result["overall"]["note"] = "cpu_us_per_step is this process (DBOS and the driver); the PostgreSQL server's CPU is postgres_server_cpu_us_per_step"
    return result


def recovery_check(args):
    """Kills the process at the checkpoint and resumes in a fresh one: the second process
    must find every workflow waiting in recv, run no step of phase A again, and complete
    each one on its decision."""
    if args.recovery_phase == "crash":
        ticket = steps.load_ticket()
        ids = ["r%08d" % i for i in range(args.n)]
        for wid in ids:
            with SetWorkflowID(wid):
                DBOS.start_workflow(ticket_triage, ticket)
        for wid in ids:
            wait_checkpoint(wid)
        json.dump({"executed": EXECUTED.snapshot()}, sys.stdout)
        sys.stdout.flush()
        os._exit(0)  # no DBOS.destroy(), no cleanup: the process just ends, as a crash would
    ids = ["r%08d" % i for i in range(args.n)]
    # Right after launch DBOS has put this executor's unfinished workflows back on its internal
    # queue to run them again from the start (ENQUEUED until dequeued, then PENDING).
    statuses = {}
    for status in DBOS.list_workflows(workflow_ids=ids):
        statuses[status.status] = statuses.get(status.status, 0) + 1
    for wid in ids:
        DBOS.send(wid, DECISION, topic=REVIEW_TOPIC)
    outs = [DBOS.retrieve_workflow(wid).get_result(polling_interval_sec=0.05) for wid in ids]
    for wid, out in zip(ids, outs):
        check_completed(wid, out)
    return {"statuses_after_restart": statuses,
            "unfinished_after_restart": statuses.get("PENDING", 0) + statuses.get("ENQUEUED", 0),
            "completed_after_decision": len(outs),
            "executed_after_restart": EXECUTED.snapshot(),
            "recorded_per_instance": [s["function_name"] for s in DBOS.list_workflow_steps(ids[0])]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    parser.add_argument("--mode", choices=("sequential", "queue"), default="sequential")
    parser.add_argument("--worker-concurrency", type=int, default=None)
    parser.add_argument("--queue-poll", type=float, default=1.0, help="the queue's polling_interval_sec (DBOS default 1.0)")
    parser.add_argument("--result-poll", type=float, default=1.0, help="polling_interval_sec of an enqueued workflow's handle.get_result (DBOS default 1.0)")
    parser.add_argument("--notification-poll", type=float, default=None,
                        help="notification_listener_polling_interval_sec (DBOS default 1.0; on SQLite it is how often waits are re-checked)")
    parser.add_argument("--postgres-pid-file", default=None, help="postmaster.pid of the server, to report its CPU too")
    parser.add_argument("--recovery-phase", choices=("crash", "resume"), default=None)
    args = parser.parse_args()
    launch(args.database_url, "steward-peer-ticket", args.notification_poll)
    try:
        if args.recovery_phase:
            result = recovery_check(args)
        else:
            result = run(args)
            result["version"] = {"dbos": version("dbos"), "SQLAlchemy": version("SQLAlchemy")}
    finally:
        if not args.recovery_phase == "crash":
            DBOS.destroy(workflow_completion_timeout_sec=0)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
