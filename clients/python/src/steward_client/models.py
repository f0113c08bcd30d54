"""What the Steward API answers, as small frozen dataclasses (Docs/openapi.yaml, components).

Each is built by ``from_json`` from the decoded JSON object: required fields must be present
with the documented type (else ``ValueError`` naming the field), optional ones may be missing,
and fields this version does not know are ignored. The whole object stays available as ``raw``
(left out of ``repr`` and of equality).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

JSONObject = dict[str, Any]
"""A decoded JSON object."""

TERMINAL_STATUSES = frozenset({"completed", "rejected", "failed", "cancelled"})
"""The statuses an instance ends in (it may still be retried from ``failed``)."""

_T = TypeVar("_T")


def _need(obj: JSONObject, key: str, kind: type[_T], what: str) -> _T:
    """``obj[key]``, which must be a ``kind``; ``ValueError`` naming ``what.key`` otherwise."""
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        found = "nothing" if key not in obj else type(value).__name__
        raise ValueError(f"{what}.{key} must be {kind.__name__}, found {found}")
    return value


def _opt(obj: JSONObject, key: str, kind: type[_T]) -> _T | None:
    """``obj[key]`` when it is a ``kind``, else None (missing, null or of another type)."""
    value = obj.get(key)
    return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) else None


def _object(value: Any, what: str) -> JSONObject:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, found {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Failure:
    """Why an instance failed: the state it failed at, the error kind and the message."""

    state: str
    kind: str
    message: str

    @classmethod
    def from_json(cls, obj: JSONObject) -> Failure:
        return cls(_need(obj, "state", str, "error"), _need(obj, "kind", str, "error"), _need(obj, "message", str, "error"))


@dataclass(frozen=True)
class HistoryEntry:
    """One journal entry of an instance: ``seq`` is None for audit entries."""

    seq: int | None
    event: str
    at: str
    actor: str
    payload: JSONObject
    raw: JSONObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: JSONObject) -> HistoryEntry:
        obj = _object(obj, "history entry")
        return cls(
            _opt(obj, "seq", int), _need(obj, "event", str, "history"), _need(obj, "at", str, "history"),
            _need(obj, "actor", str, "history"), _opt(obj, "payload", dict) or {}, obj)


@dataclass(frozen=True)
class Instance:
    """A workflow instance: a full ``Instance`` or a listing's ``InstanceSummary``.

    ``state`` is the current state. ``data``, ``attempt``, ``output`` and ``error`` come with a
    full instance; ``created_at`` and ``updated_at`` with a summary; ``history`` only from
    :meth:`StewardClient.get_instance`. ``error`` is set on a failed instance.
    """

    id: str
    template: str
    version: str
    status: str
    state: str
    customer: str | None = None
    sequence: int | None = None
    attempt: int | None = None
    data: JSONObject | None = None
    output: Any = None
    error: Failure | None = None
    created_at: str | None = None
    updated_at: str | None = None
    history: list[HistoryEntry] | None = None
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        """Whether the instance has ended (completed, rejected, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, obj: JSONObject) -> Instance:
        obj = _object(obj, "instance")
        error = obj.get("error")
        history = obj.get("history")
        return cls(
            id=_need(obj, "id", str, "instance"), template=_need(obj, "template", str, "instance"),
            version=_need(obj, "version", str, "instance"), status=_need(obj, "status", str, "instance"),
            state=_need(obj, "state", str, "instance"), customer=_opt(obj, "customer", str),
            sequence=_opt(obj, "sequence", int), attempt=_opt(obj, "attempt", int), data=_opt(obj, "data", dict),
            output=obj.get("output"), error=Failure.from_json(error) if isinstance(error, dict) else None,
            created_at=_opt(obj, "created_at", str), updated_at=_opt(obj, "updated_at", str),
            history=[HistoryEntry.from_json(entry) for entry in history] if isinstance(history, list) else None, raw=obj)


@dataclass(frozen=True)
class Task:
    """A human checkpoint's review task; ``subject`` is the output under review."""

    id: int
    instance: str
    template: str
    state: str
    credential: str
    status: str
    subject: Any
    decisions: list[str]
    opened_at: str
    due_at: str | None = None
    escalation_level: int = 0
    customer: str | None = None
    decision: str | None = None
    reviewer: str | None = None
    decided_at: str | None = None
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: JSONObject) -> Task:
        obj = _object(obj, "task")
        return cls(
            id=_need(obj, "id", int, "task"), instance=_need(obj, "instance", str, "task"),
            template=_need(obj, "template", str, "task"), state=_need(obj, "state", str, "task"),
            credential=_need(obj, "credential", str, "task"), status=_need(obj, "status", str, "task"),
            subject=obj.get("subject"), decisions=[d for d in obj.get("decisions") or [] if isinstance(d, str)],
            opened_at=_need(obj, "opened_at", str, "task"), due_at=_opt(obj, "due_at", str),
            escalation_level=_opt(obj, "escalation_level", int) or 0, customer=_opt(obj, "customer", str),
            decision=_opt(obj, "decision", str), reviewer=_opt(obj, "reviewer", str),
            decided_at=_opt(obj, "decided_at", str), raw=obj)


@dataclass(frozen=True)
class TaskContext:
    """A task with what a reviewer needs: the instance input, step outputs, AOP and history."""

    task: Task
    input: Any
    outputs: JSONObject
    aop: JSONObject | None
    history: list[HistoryEntry]
    opened_because: str | None = None
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: JSONObject) -> TaskContext:
        obj = _object(obj, "task context")
        return cls(
            Task.from_json(_need(obj, "task", dict, "context")), obj.get("input"), _opt(obj, "outputs", dict) or {},
            _opt(obj, "aop", dict), [HistoryEntry.from_json(e) for e in _opt(obj, "history", list) or []],
            _opt(obj, "opened_because", str), obj)


@dataclass(frozen=True)
class Decision:
    """The answer to a decision: the decided task and the instance after it."""

    task: Task
    instance: Instance
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: JSONObject) -> Decision:
        obj = _object(obj, "decision")
        return cls(Task.from_json(_need(obj, "task", dict, "decision")), Instance.from_json(_need(obj, "instance", dict, "decision")), obj)


@dataclass(frozen=True)
class Claim:
    """A reviewer's claim on a task: who holds it and until when (RFC 3339 text)."""

    task: int
    reviewer: str
    reviewer_name: str
    claimed_at: str
    until: str
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: JSONObject) -> Claim:
        obj = _object(obj, "claim")
        return cls(
            _need(obj, "task", int, "claim"), _need(obj, "reviewer", str, "claim"), _need(obj, "reviewer_name", str, "claim"),
            _need(obj, "claimed_at", str, "claim"), _need(obj, "until", str, "claim"), obj)


@dataclass(frozen=True)
class Readiness:
    """``/readyz``: ``status`` is ``ready`` or ``not_ready``; ``checks`` says why per part."""

    status: str
    checks: dict[str, str]
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @classmethod
    def from_json(cls, obj: JSONObject) -> Readiness:
        obj = _object(obj, "readiness")
        checks = _opt(obj, "checks", dict) or {}
        return cls(_need(obj, "status", str, "readiness"), {str(k): str(v) for k, v in checks.items()}, obj)
