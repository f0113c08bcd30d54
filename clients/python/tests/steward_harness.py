"""Starts a real ``steward serve`` for the client's tests, over a fresh database in a temp directory.

The binary is ``$STEWARD_BIN``, else ``.build/debug/steward`` in the repository (``swift build``
makes it); plugins come from ``$STEWARD_PLUGIN_PATH``, else the repository's ``.steward/plugins``
(``steward plugins build`` makes them). Nothing is compiled here: serve runs with ``--no-build``.
The server loads a copy of the repository's ``workflows/`` with one event template added.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The repository root: this file is ``clients/python/tests/steward_harness.py``."""

# The tests exercise the package in this tree, not an installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SKIP_VARIABLE = "STEWARD_CLIENT_TESTS_SKIP"

# An event state's template, as Tests/StewardServerTests/EventAPITests.swift declares it.
EVENT_TEMPLATE = """\
template: customer-reply
version: 1.0.0
vertical: customer-support
description: Waits for the customer's answer.
aop:
  domain: Support follow-ups.
  inputs: [A ticket id.]
  outputs: [The customer's answer.]
  human_touchpoints: [none]
  failure_modes: [Closing a ticket the customer did not confirm.]
  escalation_target: support-lead
  may: [Wait for the customer.]
  may_not: [Close unconfirmed tickets.]
plugins: []
start: ask
states:
  ask:
    kind: event
    event: customer_reply
    payload: {text: string, satisfied: boolean?}
    output: reply
    correlate: input.ticket
    next: done
  done:
    kind: end
    status: completed
    output: {reply: reply}
"""


class HarnessError(RuntimeError):
    """The server could not be prepared or started; the message says what to do."""


def skip_requested() -> bool:
    """Whether ``STEWARD_CLIENT_TESTS_SKIP=1`` asks to skip the tests that need a server."""
    return os.environ.get(SKIP_VARIABLE) == "1"


class StewardServer:
    """One ``steward serve`` child with an operator and a ``support-agent`` reviewer.

    After :meth:`start`: ``base_url``, ``operator_token``, ``agent_token``. :meth:`stop` sends
    SIGTERM (SIGKILL after 30 s) and removes the temp directory.
    """

    def __init__(self) -> None:
        self.binary = Path(os.environ.get("STEWARD_BIN") or REPO_ROOT / ".build/debug/steward")
        self.directory = Path(tempfile.mkdtemp(prefix="steward-pyclient-"))
        self.database = self.directory / "steward.db"
        self.workflows = self.directory / "workflows"
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.operator_token = ""
        self.agent_token = ""
        self.second_agent_token = ""

    def start(self) -> None:
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise HarnessError(
                f"no steward executable at {self.binary}: build it (swift build) or set STEWARD_BIN to one; "
                f"set {SKIP_VARIABLE}=1 to skip these tests")
        plugin_args: list[str] = []
        if not os.environ.get("STEWARD_PLUGIN_PATH"):
            plugins = REPO_ROOT / ".steward/plugins"
            if not any(plugins.glob("*.so")):
                raise HarnessError(f"no plugins in {plugins}: run `steward plugins build` (or set STEWARD_PLUGIN_PATH)")
            plugin_args = ["--plugins", str(plugins)]
        shutil.copytree(REPO_ROOT / "workflows", self.workflows)
        (self.workflows / "customer-reply.yaml").write_text(EVENT_TEMPLATE, encoding="utf-8")
        self.operator_token = self._add_reviewer("Olu Operator", "--role", "operator")
        self.agent_token = self._add_reviewer("Ana Agent", "--credential", "support-agent")
        self.second_agent_token = self._add_reviewer("Bo Agent", "--credential", "support-agent")

        stdout_path, stderr_path = self.directory / "serve.out", self.directory / "serve.err"
        with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--port", "0", "--db", str(self.database), "--workflows", str(self.workflows),
                 *plugin_args, "--no-build"],
                cwd=self.directory, env=self._environment(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        # The first line names the port: "steward: serving the API on http://127.0.0.1:PORT/v1 ...".
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:(\d+)", stdout_path.read_text(errors="replace"))
            if found:
                self.base_url = f"http://127.0.0.1:{found.group(1)}"
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        ending = "exited with status " + str(self.process.returncode) if self.process.poll() is not None else "did not listen within 180 s"
        log = stdout_path.read_text(errors="replace") + stderr_path.read_text(errors="replace")
        self.stop()
        raise HarnessError(f"steward serve {ending}:\n{log[-4000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        """What the server wrote so far (for failure messages)."""
        return "".join((self.directory / name).read_text(errors="replace") for name in ("serve.out", "serve.err")
                       if (self.directory / name).exists())

    def _environment(self) -> dict[str, str]:
        # Run from the temp directory, the classifier and the KB find their data through these.
        environment = dict(os.environ)
        environment.setdefault("STEWARD_MODEL_DIR", str(REPO_ROOT / "Plugins/banking-intent/models"))
        environment.setdefault("STEWARD_KB_ARTICLES", str(REPO_ROOT / "data/stackfaq/articles.json"))
        environment.setdefault("STEWARD_LIBRARY_PATH", str(REPO_ROOT / ".steward/lib"))
        return environment

    def _add_reviewer(self, name: str, *options: str) -> str:
        """``steward reviewers add NAME OPTIONS`` on the test database; returns the token it prints."""
        done = subprocess.run(
            [str(self.binary), "reviewers", "add", name, *options, "--db", str(self.database), "--workflows", str(self.workflows)],
            cwd=self.directory, env=self._environment(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        found = re.search(r"^token: (\S+)$", done.stdout, re.MULTILINE)
        if done.returncode != 0 or not found:
            raise HarnessError(f"steward reviewers add {name} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        return found.group(1)
