"""Running one piece of work as several machines would, at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable


def on_machines(work: Callable[[], object], count: int = 2) -> list[BaseException]:
    """Run ``work`` in ``count`` threads at once; what any of them raised."""
    errors: list[BaseException] = []

    def machine() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=machine) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
