"""The errors and the origin of every imported value.

An imported value is only as good as the reader's ability to check it, so each one keeps
its :class:`Origin`: the template file and line it was read from, the parameter it came
through, or "documented default" with the page that documents it. Input the readers cannot
use raises :class:`StackError`, a one-line message that names the file and line.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from simulator.errors import ThrottlesimError

__all__ = ["MISSING_EXTRA", "Origin", "Sourced", "StackError", "require_extra"]

T = TypeVar("T")

#: What to run when the ``aws`` extra is missing.
MISSING_EXTRA = "pip install 'throttlesim[aws]'"


class StackError(ThrottlesimError):
    """A template, OpenAPI file or scenario the stack commands cannot use."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Origin:
    """Where a value came from, as the comment next to it in the scenario says."""

    text: str

    @classmethod
    def line(cls, file: str, line: int | None, note: str = "") -> Origin:
        at = f"{file}:{line}" if line else file
        return cls(f"{at} {note}".strip())

    @classmethod
    def default(cls, url: str) -> Origin:
        return cls(f"documented default ({url})")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A value and its :class:`Origin`."""

    value: T
    origin: Origin


def require_extra(*modules: str) -> None:
    """Fail in one line, saying how to install the ``aws`` extra, when a module is missing."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            raise ThrottlesimError(f"this command needs {name}: {MISSING_EXTRA}")


def as_number(value: Any) -> float | None:
    """A template number (an int, a float or a numeric string), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
