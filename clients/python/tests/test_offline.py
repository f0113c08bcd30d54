"""What the client does without a server: argument checks, connection failures, no token shown."""

from __future__ import annotations

import socket
import unittest

import steward_harness  # noqa: F401  (puts the package in this tree on sys.path)

from steward_client import Instance, StewardClient, StewardConnectionError, Task

TOKEN = "stw_" + "feedface" * 8


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class OfflineTests(unittest.TestCase):
    def test_a_refused_connection_names_the_url_and_not_the_token(self) -> None:
        base = f"http://127.0.0.1:{closed_port()}"
        client = StewardClient(base + "/", TOKEN, timeout=5)
        with self.assertRaises(StewardConnectionError) as raised:
            client.get_instance("abc/def")
        error = raised.exception
        self.assertEqual(error.url, base + "/v1/instances/abc%2Fdef")
        self.assertIn(error.url, str(error))
        for text in (str(error), repr(error), repr(client)):
            self.assertNotIn(TOKEN, text)

    def test_arguments_are_checked(self) -> None:
        for base in ("127.0.0.1:8080", "ftp://host", ""):
            with self.assertRaises(ValueError):
                StewardClient(base, TOKEN)
        for token in ("", "stw_ x"):
            with self.assertRaises(ValueError):
                StewardClient("http://127.0.0.1:8080", token)
        with self.assertRaises(ValueError):
            StewardClient("http://127.0.0.1:1", TOKEN).wait_for_status("x", [])

    def test_models_tolerate_extra_fields_and_keep_the_raw_json(self) -> None:
        raw = {"id": "i-1", "template": "t", "version": "1.0.0", "status": "failed", "state": "intake", "attempt": 1,
               "sequence": 3, "data": {}, "new_field": [1, 2], "error": {"state": "intake", "kind": "invalid_input", "message": "m"}}
        instance = Instance.from_json(raw)
        self.assertEqual((instance.id, instance.status, instance.state, instance.attempt), ("i-1", "failed", "intake", 1))
        self.assertEqual(instance.error and instance.error.kind, "invalid_input")
        self.assertIs(instance.raw, raw)
        self.assertTrue(instance.finished)
        self.assertNotIn("new_field", repr(instance))
        with self.assertRaisesRegex(ValueError, r"instance\.status"):
            Instance.from_json({"id": "i-1", "template": "t", "version": "1", "state": "s"})
        with self.assertRaisesRegex(ValueError, r"task\.id"):
            Task.from_json({"id": True, "instance": "i", "template": "t", "state": "s", "credential": "c", "status": "open",
                            "decisions": [], "opened_at": "now"})


if __name__ == "__main__":
    unittest.main()
