"""Exceptions raised by :class:`steward_client.StewardClient`.

No exception ever holds the client's bearer token: messages come from the server's answer
(with the token masked should it appear) or name the URL, and URLs never carry it.
"""

from __future__ import annotations


class StewardError(Exception):
    """Base class of every error this package raises for a request."""


class StewardAPIError(StewardError):
    """The server answered with an HTTP error status.

    ``status`` is the HTTP status; ``code``, ``message`` and ``field`` come from the body
    ``{"error": {"code", "message", "field"?}}`` (Docs/http-api.md, "Errors"). When the body is
    not such an object (a proxy's page, a redirect), ``code`` is ``"unexpected_response"`` and
    ``message`` describes what came back. ``code`` ``"invalid_response"`` marks a success status
    whose body did not match the API's contract.
    """

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(status, code, message, field)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        where = f" (field '{self.field}')" if self.field else ""
        return f"HTTP {self.status} {self.code}{where}: {self.message}"

    def __repr__(self) -> str:
        return f"StewardAPIError(status={self.status!r}, code={self.code!r}, message={self.message!r}, field={self.field!r})"


class StewardConnectionError(StewardError):
    """The server could not be reached, or the connection failed or timed out mid-request.

    ``url`` is the URL requested and ``reason`` what the network layer reported.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot reach Steward at {self.url}: {self.reason}"

    def __repr__(self) -> str:
        return f"StewardConnectionError(url={self.url!r}, reason={self.reason!r})"
