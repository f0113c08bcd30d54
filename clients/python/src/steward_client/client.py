"""The client of Steward's HTTP API (Docs/http-api.md, Docs/openapi.yaml), standard library only."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .errors import StewardAPIError, StewardConnectionError
from .models import Claim, Decision, Instance, JSONObject, Readiness, Task, TaskContext

__all__ = ["StewardClient"]

_T = TypeVar("_T")
_VERSION = "1.0.0"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: the API never redirects, and following one would carry the token elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class StewardClient:
    """A client of one ``steward serve``, authenticated with one bearer token.

    ``base_url`` is the server's root (``http://127.0.0.1:8080``, without ``/v1``); ``token`` is
    a token from ``steward reviewers add``; ``timeout`` bounds each request in seconds.

    Every method makes one request (``wait_for_status`` several) and either returns what the
    server answered or raises :class:`StewardAPIError` for an HTTP error status (and for a
    success whose body breaks the contract) or :class:`StewardConnectionError` when the server
    cannot be reached. It keeps no per-request state, so threads may share one.
    """

    def __init__(self, base_url: str, token: str, timeout: float = 30) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http or https URL, not {base_url!r}")
        if not token or any(c.isspace() for c in token):
            raise ValueError("token must be a non-empty string without whitespace")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._opener = urllib.request.build_opener(_NoRedirects())

    def __repr__(self) -> str:
        return f"StewardClient({self.base_url!r}, timeout={self.timeout!r})"

    # Instances

    def submit(
        self, template: str, input: JSONObject, *, version: str | None = None, customer: str | None = None,
        idempotency_key: str | None = None,
    ) -> Instance:
        """Submits an instance of ``template`` (the newest loaded version unless ``version``),
        with ``customer``'s overlay when given. Returns once its start is durable (the engine
        runs on in the background). A repeated ``idempotency_key`` returns the instance the key
        already names (its ``raw`` then reflects that instance as it is now)."""
        body: JSONObject = {"template": template, "input": input}
        if version is not None:
            body["version"] = version
        if customer is not None:
            body["customer"] = customer
        return self._call("POST", "/v1/instances", Instance.from_json, body=body, key=idempotency_key)

    def get_instance(self, id: str) -> Instance:
        """The instance ``id`` with its ``history`` (every journal entry, oldest first)."""
        return self._call("GET", f"/v1/instances/{_segment(id)}", Instance.from_json)

    def list_instances(
        self, status: str | None = None, template: str | None = None, customer: str | None = None, state: str | None = None,
        older_than: str | None = None, limit: int | None = None,
    ) -> list[Instance]:
        """Instances, newest first, as summaries (no ``data``). Filters left as None are not
        sent: ``state`` is the current state, ``older_than`` a duration such as ``30m``, ``2h`` or
        ``7d``, ``limit`` 1 to 1000 (the server's default is 100)."""
        query = {"status": status, "template": template, "customer": customer, "state": state, "older_than": older_than, "limit": limit}
        return self._call("GET", "/v1/instances", _list("instances", Instance.from_json), query=query)

    def cancel(self, id: str, reason: str) -> Instance:
        """Cancels instance ``id`` for ``reason``: it ends ``cancelled`` and its open task closes
        (HTTP 409 when it already ended)."""
        return self._call("DELETE", f"/v1/instances/{_segment(id)}", Instance.from_json, body={"reason": reason})

    def retry(self, id: str) -> Instance:
        """Runs a failed instance's failed step again (attempt 1, same pinned template, config and
        bindings); returns it as committed, usually ``running`` (HTTP 409 when it is not failed)."""
        return self._call("POST", f"/v1/instances/{_segment(id)}/retry", Instance.from_json, body={})

    def send_event(self, instance_id: str, name: str, payload: JSONObject, idempotency_key: str | None = None) -> Instance:
        """Delivers event ``name`` with ``payload`` to the instance waiting for it; returns the
        instance after it. When the template keeps early events, an event sent before the
        instance waits is kept and ``raw["event_buffered"]`` is true (HTTP 202)."""
        path = f"/v1/instances/{_segment(instance_id)}/events/{_segment(name)}"
        return self._call("POST", path, Instance.from_json, body={"payload": payload}, key=idempotency_key, accept=(202,))

    def correlate_event(self, name: str, key: str, payload: JSONObject, idempotency_key: str | None = None) -> list[Instance]:
        """Delivers event ``name`` to every instance waiting for it with correlation key ``key``;
        returns those instances after it (HTTP 404 when none waits with that key)."""
        body = {"key": key, "payload": payload}
        return self._call("POST", f"/v1/events/{_segment(name)}", _list("instances", Instance.from_json), body=body, key=idempotency_key)

    # Tasks

    def list_tasks(self, credential: str | None = None) -> list[Task]:
        """Open tasks, soonest SLA deadline first: a reviewer's credentials' queues (only
        ``credential``'s when given), or every queue for an operator."""
        return self._call("GET", "/v1/tasks", _list("tasks", Task.from_json), query={"credential": credential})

    def get_task(self, id: int) -> TaskContext:
        """Task ``id`` with its context: the instance input, step outputs, AOP and history."""
        return self._call("GET", f"/v1/tasks/{int(id)}", TaskContext.from_json)

    def decide(self, task_id: int, decision: str, output: Any = None, reason: str | None = None) -> Decision:
        """Decides task ``task_id``: ``approve``, ``edit`` (with ``output``, of the original's
        type and fields) or ``reject`` (with ``reason``). Needs the task's credential. ``output``
        and ``reason`` left as None are not sent."""
        body: JSONObject = {"decision": decision}
        if output is not None:
            body["output"] = output
        if reason is not None:
            body["reason"] = reason
        return self._call("POST", f"/v1/tasks/{int(task_id)}/decision", Decision.from_json, body=body)

    def claim(self, task_id: int) -> Claim:
        """Claims task ``task_id`` for the caller (or renews their claim) for the server's claim
        time, so no one else decides it meanwhile. Needs the task's credential; someone else's
        claim that holds is a 409 ``claimed`` naming them and when it lapses."""
        return self._call("POST", f"/v1/tasks/{int(task_id)}/claim", Claim.from_json)

    def release(self, task_id: int) -> None:
        """Releases the caller's claim on task ``task_id`` (nothing happens when they hold none);
        someone else's claim is a 403: only its claimer releases it."""
        self._call("DELETE", f"/v1/tasks/{int(task_id)}/claim", lambda _: None)

    # Operations

    def health(self) -> JSONObject:
        """``/healthz``: ``{"status": "ok"}`` while the process is up (no token sent)."""
        return self._call("GET", "/healthz", dict, auth=False)

    def ready(self) -> Readiness:
        """``/readyz``: whether the store answers and plugins and templates are loaded. A
        not-ready server (HTTP 503) is answered as ``Readiness`` with ``ready`` false, not raised."""
        return self._call("GET", "/readyz", Readiness.from_json, auth=False, accept=(503,))

    def wait_for_status(self, instance_id: str, statuses: str | Iterable[str], timeout: float = 60, poll: float = 0.2) -> Instance:
        """Polls instance ``instance_id`` every ``poll`` seconds until its status is one of
        ``statuses`` (one status or several) and returns it as then read (with its history).

        Raises ``TimeoutError`` naming the instance, the statuses waited for, its last status
        and state and the wait when ``timeout`` seconds pass first. API and connection errors
        while polling are raised as they come (an unknown instance is a 404 at once)."""
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        if not wanted:
            raise ValueError("statuses must name at least one status")
        deadline = time.monotonic() + timeout
        while True:
            instance = self.get_instance(instance_id)
            if instance.status in wanted:
                return instance
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"instance {instance_id} did not reach status {' or '.join(sorted(wanted))} within {timeout:g} s: "
                    f"its last status was {instance.status} (state {instance.state})")
            time.sleep(min(poll, remaining))

    # The wire

    def _call(
        self, method: str, path: str, build: Callable[[Any], _T], *, query: Mapping[str, object] | None = None,
        body: JSONObject | None = None, key: str | None = None, auth: bool = True, accept: tuple[int, ...] = (),
    ) -> _T:
        """Sends one request and builds the answer with ``build``; see the class for what it raises."""
        url = self.base_url + path
        sent = {name: str(value) for name, value in (query or {}).items() if value is not None}
        if sent:
            url += "?" + urllib.parse.urlencode(sent)
        headers = {"Accept": "application/json", "User-Agent": f"steward-client-python/{_VERSION}"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            try:
                status, raw = error.code, error.read()
            finally:
                error.close()
            if status not in accept:
                raise self._error(status, raw, error.reason) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            raise StewardConnectionError(url, self._mask(str(reason) or type(reason).__name__)) from None
        if status == 204:
            return build(None)
        try:
            return build(json.loads(raw))
        except (ValueError, TypeError) as problem:  # json.JSONDecodeError is a ValueError
            raise StewardAPIError(status, "invalid_response", self._mask(f"the answer to {method} {path} breaks the API's contract: {problem}")) from None

    def _error(self, status: int, raw: bytes, reason: object) -> StewardAPIError:
        """The error an HTTP error answer stands for: its ``error`` object, else a description."""
        try:
            error = json.loads(raw)["error"]
            code, message, field = error["code"], error["message"], error.get("field")
            if isinstance(code, str) and isinstance(message, str) and (field is None or isinstance(field, str)):
                return StewardAPIError(status, code, self._mask(message), field)
        except (ValueError, KeyError, TypeError):
            pass
        text = raw[:200].decode("utf-8", "replace").strip()
        return StewardAPIError(status, "unexpected_response", self._mask(f"{reason}: {text}" if text else str(reason)))

    def _mask(self, text: str) -> str:
        """``text`` with the token replaced, so that no message can carry it."""
        return text.replace(self._token, "stw_***")


def _segment(value: str) -> str:
    """``value`` quoted as one path segment (a ``/`` in an id cannot reach another route)."""
    return urllib.parse.quote(str(value), safe="")


def _list(key: str, build: Callable[[Any], _T]) -> Callable[[Any], list[_T]]:
    """Builds ``[build(x) for x in answer[key]]``, the API's shape for collections."""

    def builder(answer: Any) -> list[_T]:
        items = answer.get(key) if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise ValueError(f"the answer has no '{key}' array")
        return [build(item) for item in items]

    return builder
