"""Write: a `{relative path: text or bytes}` mapping into a folder, all or nothing.

Files go to a temporary folder beside the destination, which is then moved into place; an existing
destination is refused unless `force`, and then replaced only once the new tree is complete, and only if
dwn-mcu wrote it (it holds `marker`) or it is empty (`dwn_mcu.outputs` has the rules). Nothing temporary
is left behind, whatever fails."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..interrupts import deferred
from ..outputs import OutputExistsError, check_output_folder, make_parents

__all__ = ["PROJECT_MARKER", "OutputExistsError", "check_destination", "write_tree"]

PROJECT_MARKER = "dwn_report.json"  # every project `build` writes has one at its top


def check_destination(out_dir, force: bool = False, marker: str = PROJECT_MARKER, allow_empty: bool = False) -> Path:
    """The output folder, resolved, once sure it may be written (`dwn_mcu.outputs.check_output_folder`)."""
    return check_output_folder(out_dir, force, marker, allow_empty)


def write_tree(out_dir, files: dict, force: bool = False, marker: str = PROJECT_MARKER,
               allow_empty: bool = False) -> Path:
    out = check_destination(out_dir, force, marker, allow_empty)
    with deferred():  # a Ctrl-C waits until the tree is in place or cleaned up
        make_parents(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        old = None
        try:
            tmp.chmod(0o755)  # mkdtemp makes it private; the project is an ordinary folder
            for rel in sorted(files):
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                data = files[rel]
                path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
                out.rename(old / "tree")
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and (old / "tree").exists() and not out.exists():
                (old / "tree").rename(out)  # put the previous tree back
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return Path(out_dir)
