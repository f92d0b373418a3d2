"""The command line's shared pieces: its argument parser, argument types and output checks.

Every ``throttlesim`` command, including those other packages register (see
:mod:`simulator.cli.main`), parses its arguments with these, so a bad value reads the
same everywhere: one line naming the option and what is wrong, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from simulator.errors import ThrottlesimError
from simulator.units import parse_count, parse_duration

__all__ = [
    "Parser",
    "check_output",
    "check_plots_dir",
    "console",
    "count",
    "interval",
    "overrides",
    "plot_args",
    "positive_int",
    "seed",
    "whole",
]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors end in one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def interval(text: str) -> float:
    """An argument type for durations longer than zero (``"1s"``, ``"90ms"``), in seconds."""
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0s, got {text!r}")
    return value


def whole(low: int) -> Callable[[str], int]:
    """An argument type for whole numbers >= *low*."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
        return value

    return parse


seed = whole(0)
positive_int = whole(1)


def count(text: str) -> float:
    """An argument type for counts with an optional suffix (``"50M"``), >= 0."""
    try:
        value = parse_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def overrides(pairs: list[str] | None) -> dict[str, str]:
    """The ``--set KEY=VALUE`` flags as a dict of dotted key paths to raw values."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ThrottlesimError(f"--set {pair}: expected key.path=value")
        out[key.strip()] = value.strip()
    return out


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
    if path.suffix not in suffixes:
        raise ThrottlesimError(f"{option} {value}: use a file name ending in {' or '.join(suffixes)}")
    if path.suffix == ".parquet" and not any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
        raise ThrottlesimError(f"{option} {value}: writing Parquet needs pyarrow (pip install pyarrow); "
                               "or use a .csv file")


def console() -> Console:
    """A console for tables: the terminal's, or 110 columns wide when output is piped or narrow."""
    out = Console()
    return out if out.is_terminal and out.width >= 100 else Console(width=110)
