"""Errors a user can cause, each with a message that says where and what.

* :class:`ThrottlesimError` -- anything the CLI reports as a one-line error.
  * :class:`ScenarioError` -- a scenario file that cannot be used; ``problems`` lists every
    ``(key path, message)`` found, and ``str()`` gives one line per problem in the form
    ``scenarios/x.toml: functions[0].memory_mb: must be between 128 and 10240, got 64``.
"""

from __future__ import annotations

__all__ = ["ScenarioError", "ThrottlesimError"]


class ThrottlesimError(Exception):
    """An error caused by input, reported to the user as one line without a traceback."""


class ScenarioError(ThrottlesimError, ValueError):
    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            "\n".join(f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in problems)
        )
