"""Output locations, checked before any work is done, so that a long run never ends in a write that cannot
succeed and `--force` never replaces something dwn-mcu did not write.

The rules, for every command that writes:
- missing parent folders of an output are created, when it is written (`make_parents`), not when checked;
- the nearest existing ancestor of an output must be a folder the user can write in (tried, not guessed);
- an output file must not be a folder, and an existing one is replaced only with `force`;
- an output folder must not be the filesystem root, the current folder or a folder above it; an existing
  one is replaced only with `force`, and only when it is empty or holds the marker file that dwn-mcu
  writes there (a project's `dwn_report.json`, a comparison's `report.json`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputError


class OutputExistsError(OutputError):
    """The output exists and `force` was not given, or it is of the wrong kind (a file, a folder)."""


def check_parent(out) -> Path:
    """`out`, once sure that its missing parents can be created and that it can be written there."""
    out = Path(out)
    parent = out.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{out}: {parent} is not a folder")
    try:  # the only sure test (permissions, read-only mounts, ACLs): a nameless file, gone at once
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise OutputError(f"{out}: cannot write in {parent} ({exc.strerror})") from None
    return out


def check_output_file(out, force: bool = False) -> Path:
    """`out` as a file to write: not a folder, not an existing file unless `force`, in a writable place."""
    out = Path(out)
    if out.is_dir():
        raise OutputExistsError(f"{out}: is a folder, not a file")
    if os.path.lexists(out) and not force:
        raise OutputExistsError(f"{out}: already exists (use --force to overwrite)")
    return check_parent(out)


def check_output_folder(out, force: bool = False, marker: str = "dwn_report.json",
                        allow_empty: bool = False) -> Path:
    """`out` as a folder to write whole: never the root, the current folder or one above it; an existing
    folder only with `force` (or, with `allow_empty`, when empty) and only if dwn-mcu wrote it (`marker`)."""
    out = Path(out)
    full, here = out.resolve(), Path.cwd().resolve()
    if full == here or full in here.parents:
        what = "the filesystem root" if full == full.parent else "the current folder or a folder above it"
        raise OutputError(f"{out}: is {what}; give a new folder for the output")
    if os.path.lexists(out) and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a folder")
    if out.is_dir():
        empty = not any(out.iterdir())
        if not force and not (allow_empty and empty):
            raise OutputExistsError(f"output folder {out} exists (use --force to replace it)")
        if not empty and not (out / marker).is_file():
            raise OutputError(f"{out}: has no {marker}, so dwn-mcu did not write it; refusing to replace it "
                              f"(remove it yourself or choose another folder)")
    return check_parent(full)


def make_parents(out) -> Path:
    """Create the missing parent folders of `out` (the whole project's rule for outputs)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the folder {out.parent} ({exc.strerror})") from None
    return out
