"""Writing figures to files that are the same bytes for the same figure.

PNG goes through Agg at 100 dpi unless told otherwise. SVG keeps text as paths, and its
element ids and date are fixed (matplotlib salts the ids at random and stamps the date by
default), so a scenario and seed plotted twice write identical files that diff cleanly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

__all__ = ["FORMATS", "save_figures"]

#: File formats :func:`save_figures` writes, with metadata that keeps the bytes reproducible.
FORMATS: Mapping[str, dict[str, object]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def save_figures(
    figures: Mapping[str, Figure],
    out_dir: str | Path,
    formats: Sequence[str] = ("png",),
    dpi: float = 100,
) -> list[Path]:
    """Write each figure as ``out_dir/name.<format>`` for every format; return the paths.

    *out_dir* is created if needed; existing files are overwritten. Each file is written
    under a temporary name and renamed when complete, so a failed write (a full disk) never
    leaves a partial figure under its name. Paths come back in the
    order of *figures*, each figure's formats in the order given. Names must be plain file
    names (letters, digits, ``_``, ``-``, ``.``).
    """
    if isinstance(formats, str):
        formats = (formats,)
    wanted = [f.lower().lstrip(".") for f in formats]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise ValueError(f"formats must be among {', '.join(FORMATS)}, got {list(formats)!r}")
    for name, figure in figures.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"figure name must be a plain file name, got {name!r}")
        if not isinstance(figure, Figure):
            raise TypeError(f"figures[{name!r}] must be a matplotlib Figure, got {type(figure).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    with matplotlib.rc_context({"svg.hashsalt": "throttlesim", "svg.fonttype": "path"}):
        for name, figure in figures.items():
            for fmt in dict.fromkeys(wanted):
                path = out / f"{name}.{fmt}"
                partial = out / f".{name}.partial.{fmt}"
                try:
                    figure.savefig(partial, format=fmt, dpi=dpi, metadata=FORMATS[fmt])
                    os.replace(partial, path)
                except BaseException:
                    partial.unlink(missing_ok=True)
                    raise
                paths.append(path)
    return paths
