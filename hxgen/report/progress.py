"""Progress of a report on stderr: one line rewritten in place on a terminal, plain lines in a
CI log or a journal (queries and charts take seconds)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, steps: int, stream: TextIO | None = None) -> None:
        self.steps, self.done = steps, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def step(self, what: str) -> None:
        self.done += 1
        line = f"[{self.done}/{self.steps}] {what} ({time.monotonic() - self.started:.1f} s)"
        if self.tty:
            self.stream.write(f"\r\033[K{line}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        self.stream.write(("\r\033[K" if self.tty else "") + message + "\n")
        self.stream.flush()
