import os
from pathlib import Path

import pytest

from dwn_mcu.data import load_dataset

SHARED = Path(os.environ.get("DWN_MCU_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
TABULAR = ["phoneme", "australian", "segment", "wisconsin", "pima", "banana"]


def shared_dataset(name):
    """A dataset from the shared folder, or skip with the reason when it is absent (a user's clone)."""
    path = SHARED / f"{name}.npz"
    if not path.is_file():
        pytest.skip(f"shared dataset {path} not found (set DWN_MCU_DATA to the shared datasets folder)")
    os.environ.setdefault("DWN_MCU_DATA", str(SHARED))
    return load_dataset(name)
