"""One Lambda invocation in a process of its own, as a fresh instance runs
it: read an event (JSON) on stdin, import the site's handler, call it, print
the handler's answer (JSON) on stdout.

    python -m tests.serverless.invoke < event.json

The handler's import (Lambda's init phase) happens here, so each run pays a
cold start and has never seen any session. Anything the site prints goes to
stderr, keeping stdout for two lines: the answer, then the heavy packages
(``HEAVY``) that the instance had loaded by the end of the request, so that
the tier notices one imported where no request needs it.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import dataclass, field

#: What a request should not load unless it needs it (the profiler's engines;
#: boto3 only once a request reaches the store).
HEAVY = ("duckdb", "polars", "pandas", "numpy", "pyarrow", "boto3")


@dataclass
class Context:
    """What Lambda passes as ``context`` (the attributes the adapter and the
    site may read)."""

    function_name: str = "analytics-site"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.monotonic() + 30)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def main() -> None:
    event = json.load(sys.stdin)
    answer_to = sys.stdout
    sys.stdout = sys.stderr
    from analytics_site.lambda_handler import handler

    response = handler(event, Context())
    loaded = [name for name in HEAVY if name in sys.modules]
    answer_to.write(json.dumps(response) + "\n" + json.dumps(loaded) + "\n")
    answer_to.flush()


if __name__ == "__main__":
    main()
