"""Write: a project's `{relative path: text or bytes}` mapping into a folder, all or nothing
(`dwn_mcu.atomic_write.write_tree`: a temporary folder beside the destination, moved into place; an
existing destination is refused unless `force`, and then replaced only once the new tree is complete,
and only if dwn-mcu wrote it (it holds `marker`) or it is empty; `dwn_mcu.outputs` has the rules).
Nothing temporary is left behind, whatever fails."""

from __future__ import annotations

from pathlib import Path

from ..atomic_write import write_tree as _write_tree
from ..outputs import OutputExistsError, check_output_folder

__all__ = ["PROJECT_MARKER", "OutputExistsError", "check_destination", "write_tree"]

PROJECT_MARKER = "dwn_report.json"  # every project `build` writes has one at its top


def check_destination(out_dir, force: bool = False, marker: str = PROJECT_MARKER, allow_empty: bool = False) -> Path:
    """The output folder, resolved, once sure it may be written (`dwn_mcu.outputs.check_output_folder`)."""
    return check_output_folder(out_dir, force, marker, allow_empty)


def write_tree(out_dir, files: dict, force: bool = False, marker: str = PROJECT_MARKER,
               allow_empty: bool = False) -> Path:
    """The project's files into `out_dir`, atomically (`dwn_mcu.atomic_write.write_tree`)."""
    return _write_tree(out_dir, files, marker, force, allow_empty)
