"""Progress of long command runs on stderr: a bar on a terminal, a line every
few seconds in a log (cron, CI), nothing at verbosity 0."""

from __future__ import annotations

import time
from typing import Any, TextIO

BAR_WIDTH = 30


class ProgressReporter:
    def __init__(
        self,
        stream: Any,
        label: str,
        *,
        unit: str = "sessions",
        enabled: bool = True,
        tty: bool | None = None,
        every: float | None = None,
    ) -> None:
        self.stream = stream
        self.label = label
        self.unit = unit
        self.enabled = enabled
        raw: TextIO = getattr(stream, "_out", stream)
        self.tty = raw.isatty() if tty is None else tty
        self.every = every if every is not None else (0.1 if self.tty else 5.0)
        self.started = time.monotonic()
        self._shown = 0.0
        self._drawn = False

    def rate(self, done: int) -> float:
        return done / max(time.monotonic() - self.started, 1e-6)

    def line(self, done: int, total: int | None) -> str:
        rate = f"{self.rate(done):,.0f} {self.unit}/s"
        if total:
            share = min(done / total, 1.0)
            if self.tty:
                filled = round(share * BAR_WIDTH)
                bar = "#" * filled + "." * (BAR_WIDTH - filled)
                return f"{self.label} [{bar}] {done:,}/{total:,} ({rate})"
            return f"{self.label}: {done:,}/{total:,} {self.unit} ({share:.0%}, {rate})"
        return f"{self.label}: {done:,} {self.unit} ({rate})"

    def __call__(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        moment = time.monotonic()
        if moment - self._shown < self.every:
            return
        self._shown = moment
        if self.tty:
            self.stream.write("\r\033[K" + self.line(done, total), ending="")
            self.stream.flush()
            self._drawn = True
        else:
            self.stream.write(self.line(done, total))

    def finish(self) -> float:
        """End the bar's line; the seconds since the start."""
        if self._drawn:
            self.stream.write("")
        return time.monotonic() - self.started
