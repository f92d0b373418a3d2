"""Reading a log export line by line, counting the lines that cannot be read.

Logs are long and not always clean: a line that cannot be read is counted, the first one is
kept to show, and reading goes on. A file that cannot be opened is a one-line error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from simulator.stack.errors import StackError

__all__ = ["LogFile", "log_lines"]


@dataclass
class LogFile:
    source: str
    unreadable: int = 0
    first_unreadable: str = ""

    def skip(self, number: int, why: str) -> None:
        self.unreadable += 1
        self.first_unreadable = self.first_unreadable or f"{self.source}:{number}: {why}"

    def warning(self) -> str | None:
        if not self.unreadable:
            return None
        return f"{self.unreadable} unreadable lines skipped; the first: {self.first_unreadable}"


def log_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise StackError(str(path), f"cannot read: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line.strip()
