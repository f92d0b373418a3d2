"""Output directories of ``throttlesim loadtest`` and ``validate``: checked first, made last.

A command that refuses its input leaves nothing behind. So an output directory is
checked with everything else (:func:`check_out_dir`: not a file, its parent exists, it
can be written), and made only when every check has passed (:func:`make_out_dir`), in
an existing parent only, as ``throttlesim run --plots`` does. :func:`removed_if_refused`
takes away a directory that a command made and then left empty because a later step
refused to go on.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.errors import ThrottlesimError

__all__ = ["check_out_dir", "make_out_dir", "removed_if_refused"]


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """*path* made absolute, or a one-line :class:`ThrottlesimError`; creates nothing."""
    given = Path(path)
    out = given.resolve()
    if out.exists() and not out.is_dir():
        raise ThrottlesimError(f"{option} {given}: is a file; give a directory")
    where = out if out.exists() else out.parent
    if not where.is_dir():
        raise ThrottlesimError(f"{option} {given}: the parent directory does not exist")
    if not os.access(where, os.W_OK | os.X_OK):
        raise ThrottlesimError(f"{option} {given}: {_why_not_writable(where)}")
    return out


def _why_not_writable(path: Path) -> str:
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
    except OSError:
        pass
    return "permission denied" if path.exists() else "cannot be created"


def make_out_dir(path: str | Path, option: str = "--out") -> tuple[Path, bool]:
    """Check *path* (:func:`check_out_dir`) and make it; (the directory, whether it was made)."""
    out = check_out_dir(path, option)
    if out.is_dir():
        return out, False
    try:
        out.mkdir()
    except OSError as exc:
        reason = "on a read-only file system" if exc.errno == errno.EROFS else (exc.strerror or str(exc))
        raise ThrottlesimError(f"{option} {path}: cannot create it: {reason}") from None
    return out, True


@contextmanager
def removed_if_refused(out: Path, created: bool) -> Iterator[None]:
    """Remove *out* if this command *created* it and an error leaves no file in it
    (empty directories below it go too)."""
    try:
        yield
    except BaseException:
        if created:
            for folder in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                _remove_if_empty(folder)
            _remove_if_empty(out)
        raise


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()  # only if empty
    except OSError:
        pass
