"""Errors a user can cause, each with a message that says where and what.

* :class:`ThrottlesimError` -- anything the CLI reports as a one-line error.
  * :class:`ScenarioError` -- a scenario file that cannot be used; ``problems`` lists every
    ``(key path, message)`` found, and ``str()`` gives one line per problem in the form
    ``scenarios/x.toml: functions[0].memory_mb: must be between 128 and 10240, got 64``.
    At most :data:`~simulator.limits.MAX_PRINTED_ERRORS` lines are printed, then one line
    saying how many more there are; a key path or message too long for a line is cut.
"""

from __future__ import annotations

from simulator.limits import MAX_PRINTED_ERRORS

__all__ = ["ScenarioError", "ThrottlesimError"]

_MAX_PATH_CHARS = 120
_MAX_MESSAGE_CHARS = 400


class ThrottlesimError(Exception):
    """An error caused by input, reported to the user as one line without a traceback."""


def _line(text: str, limit: int) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class ScenarioError(ThrottlesimError, ValueError):
    def __init__(self, source: str, problems: list[tuple[str, str]], more: int = 0) -> None:
        self.source = source
        self.problems = problems
        #: Problems found beyond those in ``problems`` (not described, to keep the output short).
        self.more = more + max(0, len(problems) - MAX_PRINTED_ERRORS)
        src = _line(source, _MAX_PATH_CHARS)
        lines = [
            f"{src}: {_line(path, _MAX_PATH_CHARS)}: {_line(msg, _MAX_MESSAGE_CHARS)}" if path
            else f"{src}: {_line(msg, _MAX_MESSAGE_CHARS)}"
            for path, msg in problems[:MAX_PRINTED_ERRORS]
        ]
        if self.more:
            lines.append(f"{src}: ... and {self.more:,} more problems (the first {MAX_PRINTED_ERRORS} are shown)")
        super().__init__("\n".join(lines))
