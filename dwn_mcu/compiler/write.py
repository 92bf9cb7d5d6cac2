"""Write: a `{relative path: text or bytes}` mapping into a folder, all or nothing.

Files go to a temporary folder beside the destination, which is then moved into place; an existing
destination is refused unless `force`, and then replaced only once the new tree is complete."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..errors import DWNError


class OutputExistsError(DWNError):
    """The output folder exists and `force` was not given (or it is a file)."""


def check_destination(out_dir, force: bool = False) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"output {out} exists and is not a folder")
    if out.exists() and not force:
        raise OutputExistsError(f"output folder {out} exists (use --force to replace it)")
    return out


def write_tree(out_dir, files: dict, force: bool = False) -> Path:
    out = check_destination(out_dir, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the project is an ordinary folder
    try:
        for rel in sorted(files):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = files[rel]
            if isinstance(data, str):
                data = data.encode("utf-8")
            path.write_bytes(data)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / "tree")
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
