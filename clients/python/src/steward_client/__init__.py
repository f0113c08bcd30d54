"""A typed client of the Steward workflow engine's HTTP API, on the standard library alone.

>>> client = StewardClient("http://127.0.0.1:8080", token)   # doctest: +SKIP
>>> instance = client.submit("support-ticket-triage", ticket)  # doctest: +SKIP

See the package README and Docs/http-api.md in the Steward repository.
"""

from .client import StewardClient
from .errors import StewardAPIError, StewardConnectionError, StewardError
from .models import TERMINAL_STATUSES, Claim, Decision, Failure, HistoryEntry, Instance, JSONObject, Readiness, Task, TaskContext

__version__ = "1.0.0"

__all__ = [
    "StewardClient",
    "StewardError",
    "StewardAPIError",
    "StewardConnectionError",
    "Instance",
    "Failure",
    "HistoryEntry",
    "Task",
    "TaskContext",
    "Decision",
    "Claim",
    "Readiness",
    "JSONObject",
    "TERMINAL_STATUSES",
]
