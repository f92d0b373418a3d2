"""The command line's shared pieces: its argument parser, argument types and output checks.

Every ``throttlesim`` command, including those other packages register (see
:mod:`simulator.cli.main`), parses its arguments with these, so a bad value reads the
same everywhere: one line naming the option and what is wrong, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from simulator.errors import ThrottlesimError
from simulator.limits import MAX_COUNT, MAX_DIGITS, MAX_OUTPUT_ROWS, clip, echo
from simulator.units import parse_count, parse_duration

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "Parser",
    "atomic_output",
    "check_output",
    "check_rows",
    "check_plots_dir",
    "console",
    "count",
    "finite",
    "interval",
    "overrides",
    "plot_args",
    "positive_int",
    "scale_args",
    "seed",
    "whole",
]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors end in one line and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A value that starts with a minus sign and a digit ("-1d", "-5") is a value, never an
        # option, so that "--horizon -1d" says what is wrong with -1d.
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        message = message.replace("\n", " ")
        if len(message) > 300:
            message = message[:300] + "..."
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def interval(text: str) -> float:
    """An argument type for durations longer than zero (``"1s"``, ``"90ms"``), in seconds."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"must be longer than 0s, got {echo(text)}")
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0s, got {echo(text)}")
    return value


def whole(low: int, high: int = 2**63 - 1) -> Callable[[str], int]:
    """An argument type for whole numbers from *low* to *high*."""

    def parse(text: str) -> int:
        try:
            value = int(text) if len(text.strip()) <= MAX_DIGITS else low - 1
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number between {low} and {high}, got {echo(text)}")
        return value

    return parse


seed = whole(0)
positive_int = whole(1)


def count(text: str) -> float:
    """An argument type for counts with an optional suffix (``"50M"``), from 0 to
    :data:`~simulator.limits.MAX_COUNT`."""
    try:
        value = parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {echo(text)}")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT:.0e}, got {echo(text)}")
    return value


def finite(low: float, high: float) -> Callable[[str], float]:
    """An argument type for finite numbers from *low* to *high* (``nan`` and ``inf`` refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be a number between {low:g} and {high:g}, got {echo(text)}")
        return value

    return parse


def overrides(pairs: list[str] | None) -> dict[str, str]:
    """The ``--set KEY=VALUE`` flags as a dict of dotted key paths to raw values."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ThrottlesimError(f"--set {clip(pair)}: expected key.path=value")
        out[key.strip()] = value.strip()
    return out


def scale_factor(text: str) -> float:
    """An argument type for ``--scale``: a load multiplier, e.g. ``3`` or ``0.5``."""
    from simulator.scenario.scale import MAX_SCALE

    return finite(1 / MAX_SCALE, MAX_SCALE)(text)


def scale_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--scale X`` to *parser* (see :mod:`simulator.scenario.scale`)."""
    parser.add_argument("--scale", type=scale_factor, default=1.0, metavar="X",
                        help="multiply every client's offered load by X (open rates and bursts, closed users, "
                             "replay traces thinned or duplicated), e.g. 3 for three times today's traffic")


def plot_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--plots DIR`` and ``--svg`` to *parser*."""
    parser.add_argument("--plots", metavar="DIR", help="write figures (PNG) to DIR")
    parser.add_argument("--svg", action="store_true", help="with --plots: also write SVG")


def check_plots_dir(args: argparse.Namespace) -> tuple[str, ...]:
    """The figure formats ``--plots``/``--svg`` ask for; refuses a directory we could not create."""
    if not args.plots:
        return ()
    path = Path(args.plots)
    if path.exists() and not path.is_dir():
        raise ThrottlesimError(f"--plots {args.plots}: is a file; give a directory")
    if not path.resolve().parent.is_dir():
        raise ThrottlesimError(f"--plots {args.plots}: the parent directory does not exist")
    if not os.access(path if path.is_dir() else path.resolve().parent, os.W_OK):
        raise ThrottlesimError(f"--plots {args.plots}: the directory is not writable")
    return ("png", "svg") if args.svg else ("png",)


def check_output(option: str, value: str | None, suffixes: tuple[str, ...]) -> None:
    """Refuse an output file we could not write, before spending time on the run."""
    if value is None:
        return
    path = Path(value)
    if path.is_dir():
        raise ThrottlesimError(f"{option} {value}: is a directory; give a file name")
    if not path.resolve().parent.is_dir():
        raise ThrottlesimError(f"{option} {value}: the directory does not exist")
    if not os.access(path.resolve().parent, os.W_OK):
        raise ThrottlesimError(f"{option} {value}: the directory is not writable")
    if path.suffix not in suffixes:
        raise ThrottlesimError(f"{option} {value}: use a file name ending in {' or '.join(suffixes)}")
    if path.suffix == ".parquet" and not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
        raise ThrottlesimError(f"{option} {value}: writing Parquet needs pyarrow (pip install pyarrow); "
                               "or use a .csv file")


def check_rows(option: str, rows: float) -> None:
    """Refuse an output of more than :data:`~simulator.limits.MAX_OUTPUT_ROWS` rows, before the run."""
    if rows > MAX_OUTPUT_ROWS:
        raise ThrottlesimError(f"{option}: would write about {rows:,.0f} rows, more than the limit of "
                               f"{MAX_OUTPUT_ROWS:,} (see simulator/limits.py); give a longer --interval")


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """A temporary name next to *path* (same suffix) to write to; renamed to *path* only when
    the block ends without an error, removed otherwise: a full disk or an interrupted write
    never leaves a partial file under the name asked for (an ``OSError`` becomes one line
    naming *path*)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".partial{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise ThrottlesimError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a full disk
        Path(tmp).unlink(missing_ok=True)
        raise ThrottlesimError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def console() -> Console:
    """A console for tables: the terminal's, or 110 columns wide when output is piped or narrow."""
    from rich.console import Console

    out = Console()
    return out if out.is_terminal and out.width >= 100 else Console(width=110)
