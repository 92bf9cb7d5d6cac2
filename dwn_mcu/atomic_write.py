"""Atomic writes, all or nothing: one file (`write_file`) or one folder of files (`write_tree`).

One mechanism for both (`_stage`): the new content is written into a temporary beside the destination
(the same folder, so the final move is a rename), then moved into place; whatever fails or interrupts,
the temporary is removed and the destination is as it was. A Ctrl-C meanwhile waits until the content
is in place or cleaned up (`interrupts.deferred`). A file's location that cannot be written raises
OutputError naming the path; a folder's destination is checked first (`outputs.check_output_folder`:
an existing one is replaced only with `force`, and only if dwn-mcu wrote it or it is empty).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .errors import OutputError
from .interrupts import deferred
from .outputs import check_output_folder, make_parents


def _stage(tmp: Path, fill: Callable[[Path], None], install: Callable[[Path], None],
           remove: Callable[[Path], None]) -> None:
    """Fill the temporary `tmp` and install it; on any failure (Ctrl-C included) remove it and re-raise."""
    with deferred():  # a Ctrl-C waits until the content is in place or the temporary is gone
        try:
            fill(tmp)
            install(tmp)
        except BaseException:
            remove(tmp)
            raise


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def write_file(path, data: bytes) -> None:
    """`data` as the file `path`, atomically, creating missing parent folders; OutputError naming the path
    when it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None

    def fill(tmp: Path) -> None:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

    def remove(tmp: Path) -> None:
        if tmp.exists():
            tmp.unlink()

    try:
        _stage(Path(tmp), fill, lambda tmp: os.replace(tmp, path), remove)
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def _fill_tree(files: dict) -> Callable[[Path], None]:
    def fill(tmp: Path) -> None:
        tmp.chmod(0o755)  # mkdtemp makes it private; the output is an ordinary folder
        for rel in sorted(files):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = files[rel]
            path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return fill


def _install_tree(out: Path) -> Callable[[Path], None]:
    """Move the filled folder to `out`; an existing `out` is moved aside first, put back if the move fails,
    and removed once the new one is in place."""
    def install(tmp: Path) -> None:
        old = None
        try:
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
                out.rename(old / "tree")
            tmp.rename(out)
        except BaseException:
            if old is not None and (old / "tree").exists() and not out.exists():
                (old / "tree").rename(out)  # put the previous tree back
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return install


def write_tree(out_dir, files: dict, marker: str, force: bool = False, allow_empty: bool = False) -> Path:
    """A `{relative path: text or bytes}` mapping as the folder `out_dir`, atomically: refused when the
    destination may not be written (`outputs.check_output_folder` with `force`, `marker`, `allow_empty`),
    else complete or not there at all."""
    out = check_output_folder(out_dir, force, marker, allow_empty)
    with deferred():  # from the parents on: nothing is left behind if Ctrl-C comes before the staging
        make_parents(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        _stage(tmp, _fill_tree(files), _install_tree(out), lambda tmp: shutil.rmtree(tmp, ignore_errors=True))
    return Path(out_dir)
