"""The client against a real ``steward serve`` (started once for this module; see steward_harness).

Run from the repository root: ``python3 -m unittest discover -s clients/python/tests -v``.
Without a steward binary these tests fail with what to do, unless STEWARD_CLIENT_TESTS_SKIP=1.
"""

from __future__ import annotations

import json
import unittest
import uuid
from collections.abc import Callable

from steward_harness import REPO_ROOT, HarnessError, StewardServer, skip_requested

from steward_client import Instance, StewardAPIError, StewardClient

TRIAGE = "support-ticket-triage"
SERVER: StewardServer | None = None


def setUpModule() -> None:
    global SERVER
    if skip_requested():
        raise unittest.SkipTest("STEWARD_CLIENT_TESTS_SKIP=1")
    server = StewardServer()
    try:
        server.start()
    except HarnessError:
        server.stop()
        raise
    SERVER = server


def tearDownModule() -> None:
    if SERVER is not None:
        SERVER.stop()


def ticket(number: int) -> dict[str, object]:
    """workflows/examples/ticket-N.json: 1 is a routine fee question, 2 a stolen card (P1: reviewed)."""
    text = (REPO_ROOT / f"workflows/examples/ticket-{number}.json").read_text(encoding="utf-8")
    loaded: dict[str, object] = json.loads(text)
    return loaded


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class LiveServerTests(unittest.TestCase):
    operator: StewardClient
    agent: StewardClient

    @classmethod
    def setUpClass(cls) -> None:
        assert SERVER is not None
        cls.operator = StewardClient(SERVER.base_url, SERVER.operator_token, timeout=30)
        cls.agent = StewardClient(SERVER.base_url, SERVER.agent_token, timeout=30)

    def waiting_for_review(self) -> Instance:
        """A stolen-card ticket submitted and waiting at its review checkpoint."""
        submitted = self.operator.submit(TRIAGE, ticket(2), idempotency_key=unique("review"))
        waiting = self.operator.wait_for_status(submitted.id, "waiting", timeout=60)
        self.assertEqual(waiting.state, "review_reply", repr(waiting))
        return waiting

    def test_health_and_readiness(self) -> None:
        self.assertEqual(self.operator.health(), {"status": "ok"})
        readiness = self.operator.ready()
        self.assertTrue(readiness.ready, repr(readiness))
        self.assertEqual(set(readiness.checks), {"store", "plugins", "templates"})

    def test_review_and_approve_completes_the_instance(self) -> None:
        submitted = self.operator.submit(TRIAGE, ticket(2), customer="acme-bank", idempotency_key=unique("approve"))
        self.assertEqual((submitted.template, submitted.customer), (TRIAGE, "acme-bank"))
        self.assertIn(submitted.status, {"running", "waiting"})
        waiting = self.operator.wait_for_status(submitted.id, ["waiting", "completed", "failed"], timeout=60)
        self.assertEqual((waiting.status, waiting.state), ("waiting", "review_reply"), repr(waiting))
        self.assertEqual(waiting.data and waiting.data["routing"]["priority"], "P1")

        tasks = [task for task in self.agent.list_tasks(credential="support-agent") if task.instance == submitted.id]
        self.assertEqual(len(tasks), 1, tasks)
        task = tasks[0]
        self.assertEqual((task.state, task.credential, task.status), ("review_reply", "support-agent", "open"))
        self.assertEqual(task.decisions, ["approve", "edit", "reject"])
        self.assertIsInstance(task.subject, dict)
        self.assertIsNotNone(task.due_at, "a P1 ticket has a first-response deadline")

        context = self.agent.get_task(task.id)
        self.assertEqual(context.task.id, task.id)
        self.assertEqual(context.input, ticket(2))
        self.assertIn("classification", context.outputs)
        self.assertIsNotNone(context.aop)
        self.assertTrue(any(entry.event == "started" for entry in context.history))

        refused = self._api_error(lambda: self.agent.decide(task.id, "reject"))
        self.assertEqual((refused.status, refused.code), (422, "invalid_decision"), str(refused))

        decided = self.agent.decide(task.id, "approve")
        self.assertEqual((decided.task.id, decided.task.status, decided.task.decision), (task.id, "decided", "approve"))
        self.assertEqual(decided.instance.id, submitted.id)
        again = self._api_error(lambda: self.agent.decide(task.id, "approve"))
        self.assertEqual((again.status, again.code), (409, "conflict"), str(again))

        done = self.operator.wait_for_status(submitted.id, "completed", timeout=60)
        self.assertTrue(done.finished)
        self.assertIsNone(done.error)
        self.assertEqual(done.output["routing"]["priority"], "P1")
        self.assertEqual(done.output["review"]["decision"], "approve", done.output)
        events = [entry.event for entry in done.history or []]
        self.assertIn("checkpoint_decided", events)
        self.assertNotIn(task.id, [open_task.id for open_task in self.agent.list_tasks()])

    def test_a_claimed_task_waits_for_its_claimer(self) -> None:
        submitted = self.operator.submit(TRIAGE, ticket(2), idempotency_key=unique("claim"))
        self.operator.wait_for_status(submitted.id, "waiting", timeout=60)
        task = next(task for task in self.agent.list_tasks() if task.instance == submitted.id)
        bo = StewardClient(SERVER.base_url, SERVER.second_agent_token, timeout=30)

        claim = self.agent.claim(task.id)
        self.assertEqual((claim.task, claim.reviewer_name), (task.id, "Ana Agent"))
        self.assertTrue(claim.until.endswith("Z") and claim.until > claim.claimed_at, claim)
        blocked = self._api_error(lambda: bo.decide(task.id, "approve"))
        self.assertEqual((blocked.status, blocked.code), (409, "claimed"), str(blocked))
        self.assertIn("Ana Agent", blocked.message)
        not_theirs = self._api_error(lambda: bo.release(task.id))
        self.assertEqual(not_theirs.status, 403, str(not_theirs))

        self.assertIsNone(self.agent.release(task.id))
        decided = bo.decide(task.id, "approve")
        self.assertEqual((decided.task.status, decided.task.reviewer is not None), ("decided", True))

    def test_a_routine_ticket_completes_without_review(self) -> None:
        submitted = self.operator.submit(TRIAGE, ticket(1), version="1.1.0")
        done = self.operator.wait_for_status(submitted.id, ["completed", "waiting", "failed"], timeout=60)
        self.assertEqual(done.status, "completed", repr(done))
        self.assertEqual(done.version, "1.1.0")

    def test_an_idempotent_resubmission_returns_the_same_instance(self) -> None:
        key = unique("same")
        first = self.operator.submit(TRIAGE, ticket(1), idempotency_key=key)
        second = self.operator.submit(TRIAGE, ticket(1), idempotency_key=key)
        self.assertEqual(second.id, first.id)
        reused = self._api_error(lambda: self.operator.submit("account-health-review", {"account": "acc-1"}, idempotency_key=key))
        self.assertEqual((reused.status, reused.code), (409, "idempotency_key_reused"), str(reused))

    def test_listing_filters_by_status_template_and_state(self) -> None:
        instance = self.waiting_for_review()
        listed = self.operator.list_instances(status="waiting", template=TRIAGE, state="review_reply", older_than="0s", limit=1000)
        self.assertIn(instance.id, [summary.id for summary in listed])
        self.assertTrue(all(summary.status == "waiting" and summary.state == "review_reply" for summary in listed), listed)
        self.assertTrue(all(summary.created_at for summary in listed))
        self.assertEqual(len(self.operator.list_instances(limit=1)), 1)
        bad = self._api_error(lambda: self.operator.list_instances(older_than="soon"))
        self.assertEqual((bad.status, bad.code), (400, "invalid_field"), str(bad))

    def test_a_bad_token_is_401_and_never_shown(self) -> None:
        assert SERVER is not None
        token = "stw_" + "0123456789abcdef" * 4
        intruder = StewardClient(SERVER.base_url, token)
        error = self._api_error(lambda: intruder.get_instance("anything"))
        self.assertEqual((error.status, error.code), (401, "unauthenticated"))
        for text in (str(error), repr(error), error.message, repr(intruder), str(intruder)):
            self.assertNotIn(token, text)
            self.assertNotIn(token[4:20], text)

    def test_an_unknown_instance_is_404(self) -> None:
        error = self._api_error(lambda: self.operator.get_instance("no-such-instance"))
        self.assertEqual((error.status, error.code), (404, "not_found"))
        self.assertIn("no-such-instance", error.message)
        self.assertIn("404 not_found", str(error))
        with self.assertRaises(StewardAPIError) as raised:
            self.operator.wait_for_status("no-such-instance", "completed", timeout=5)
        self.assertEqual(raised.exception.status, 404)

    def test_validation_errors_carry_code_message_and_field(self) -> None:
        unknown = self._api_error(lambda: self.operator.submit("no-such-template", {"subject": "x"}))
        self.assertEqual((unknown.status, unknown.code, unknown.field), (422, "unknown_template", "template"))
        self.assertIn("no-such-template", unknown.message)
        self.assertIn("field 'template'", str(unknown))
        ill_typed = self._api_error(lambda: self.operator.submit(TRIAGE, "not an object"))  # type: ignore[arg-type]
        self.assertEqual((ill_typed.status, ill_typed.code, ill_typed.field), (400, "invalid_field", "input"), str(ill_typed))
        customer = self._api_error(lambda: self.operator.submit(TRIAGE, ticket(1), customer="nobody"))
        self.assertEqual((customer.status, customer.code), (404, "not_found"), str(customer))

    def test_a_reviewer_may_not_submit(self) -> None:
        error = self._api_error(lambda: self.agent.submit(TRIAGE, ticket(1)))
        self.assertEqual((error.status, error.code), (403, "forbidden"), str(error))

    def test_wait_for_status_times_out_naming_instance_and_last_status(self) -> None:
        instance = self.waiting_for_review()
        with self.assertRaises(TimeoutError) as raised:
            self.operator.wait_for_status(instance.id, "completed", timeout=0.5, poll=0.1)
        message = str(raised.exception)
        for part in (instance.id, "completed", "waiting", "review_reply", "0.5 s"):
            self.assertIn(part, message)

    def test_cancel_ends_the_instance_and_closes_its_task(self) -> None:
        instance = self.waiting_for_review()
        cancelled = self.operator.cancel(instance.id, "the customer withdrew the ticket")
        self.assertEqual((cancelled.id, cancelled.status), (instance.id, "cancelled"))
        self.assertTrue(cancelled.finished)
        self.assertNotIn(instance.id, [task.instance for task in self.operator.list_tasks()])
        again = self._api_error(lambda: self.operator.cancel(instance.id, "again"))
        self.assertEqual((again.status, again.code), (409, "conflict"), str(again))
        not_failed = self._api_error(lambda: self.operator.retry(instance.id))
        self.assertEqual(not_failed.status, 409, str(not_failed))

    def test_retry_runs_a_failed_instance_again(self) -> None:
        # A ticket without subject or body fails at intake (invalid_input), and again on retry.
        submitted = self.operator.submit(TRIAGE, {"channel": "email"})
        failed = self.operator.wait_for_status(submitted.id, ["failed", "completed", "rejected"], timeout=60)
        self.assertEqual(failed.status, "failed", repr(failed))
        assert failed.error is not None
        self.assertEqual((failed.error.state, failed.error.kind), ("intake", "invalid_input"))
        self.assertIn(submitted.id, [s.id for s in self.operator.list_instances(status="failed", state="intake")])
        retried = self.operator.retry(submitted.id)
        self.assertEqual(retried.id, submitted.id)
        self.assertIn(retried.status, {"running", "failed"})
        again = self.operator.wait_for_status(submitted.id, "failed", timeout=60)
        events = [entry.event for entry in again.history or []]
        self.assertIn("retried", events)
        self.assertEqual(events.count("step_failed"), 2, events)

    def test_events_by_instance_and_by_correlation_key(self) -> None:
        first = self.operator.submit("customer-reply", {"ticket": unique("T")})
        self.assertEqual(self.operator.wait_for_status(first.id, "waiting", timeout=60).state, "ask")
        invalid = self._api_error(lambda: self.operator.send_event(first.id, "customer_reply", {"text": 3}))
        self.assertEqual((invalid.status, invalid.field), (422, "payload.text"), str(invalid))
        key = unique("event")
        delivered = self.operator.send_event(first.id, "customer_reply", {"text": "fixed, thanks", "satisfied": True}, idempotency_key=key)
        self.assertEqual(delivered.id, first.id)
        self.assertEqual(self.operator.send_event(first.id, "customer_reply", {"text": "fixed, thanks"}, idempotency_key=key).id, first.id)
        done = self.operator.wait_for_status(first.id, "completed", timeout=60)
        self.assertEqual(done.output, {"reply": {"text": "fixed, thanks", "satisfied": True}})
        late = self._api_error(lambda: self.operator.send_event(first.id, "customer_reply", {"text": "late"}))
        self.assertEqual(late.status, 409, str(late))

        ticket_key = unique("T")
        second = self.operator.submit("customer-reply", {"ticket": ticket_key})
        self.operator.wait_for_status(second.id, "waiting", timeout=60)
        reached = self.operator.correlate_event("customer_reply", ticket_key, {"text": "by key"})
        self.assertEqual([instance.id for instance in reached], [second.id])
        self.assertEqual(self.operator.wait_for_status(second.id, "completed", timeout=60).output, {"reply": {"text": "by key"}})
        nobody = self._api_error(lambda: self.operator.correlate_event("customer_reply", unique("nobody"), {"text": "x"}))
        self.assertEqual((nobody.status, nobody.code), (404, "not_found"), str(nobody))

    def _api_error(self, call: Callable[[], object]) -> StewardAPIError:
        """The StewardAPIError that ``call()`` raises (failing the test when it returns)."""
        with self.assertRaises(StewardAPIError) as raised:
            call()
        return raised.exception


if __name__ == "__main__":
    unittest.main()
