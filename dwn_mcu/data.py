"""Datasets: CSV files, `.npz` files in the shared datasets' format, and the bundled demo set.

A `Dataset` is features `X` (float32), labels `y` (int64, 0..C-1), the test split `is_test`, class and
feature names. `--dataset NAME` looks in the package's bundled folder, then in the folder named by the
environment variable `DWN_MCU_DATA`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .csv_table import name_fault, read_csv
from .errors import DataError

BUNDLED_DIR = Path(__file__).resolve().parent / "datasets"
DATA_ENV = "DWN_MCU_DATA"


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    X: np.ndarray  # (N, F) float32
    y: np.ndarray  # (N,) int64
    is_test: np.ndarray  # (N,) bool
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def train_split(self):
        return self.X[~self.is_test], self.y[~self.is_test]

    def test_split(self):
        return self.X[self.is_test], self.y[self.is_test]


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask choosing about `fraction` of the rows of each class (at least one row of a class with
    two or more), seeded."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(y.shape[0], dtype=bool)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        rng.shuffle(rows)
        k = int(round(fraction * rows.size))
        if rows.size >= 2:
            k = min(max(k, 1), rows.size - 1)
        mask[rows[:k]] = True
    return mask


def _check(X: np.ndarray, y: np.ndarray, source: str) -> None:
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{source}: no rows or no feature columns")
    classes = np.unique(y)
    if classes.size < 2:
        raise DataError(f"{source}: the target has a single class; a classifier needs at least two")


def load_npz(path, name: str | None = None) -> Dataset:
    """Load a `.npz` in the shared datasets' format (X, y, optional is_test, classes, feature_names)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as d:
            files = set(d.files)
            for key in ("X", "y"):
                if key not in files:
                    raise DataError(f"{path}: missing array {key!r}")
            X = np.asarray(d["X"], dtype=np.float32)
            y = np.asarray(d["y"])
            is_test = np.asarray(d["is_test"], dtype=bool) if "is_test" in files else None
            classes = [str(c) for c in d["classes"]] if "classes" in files else None
            features = [str(c) for c in d["feature_names"]] if "feature_names" in files else None
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz dataset ({exc})") from None
    if y.dtype.kind not in "iu" or y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"{path}: 'y' must be integer labels, one per row of 'X'")
    if y.size and y.min() < 0:
        raise DataError(f"{path}: 'y' has negative labels")
    _check(X, y, str(path))
    num_classes = int(y.max()) + 1
    if classes is None or len(classes) != num_classes:
        classes = [str(c) for c in range(num_classes)]
    if features is None or len(features) != X.shape[1]:
        features = [f"x{i}" for i in range(X.shape[1])]
    for what, names in (("classes", classes), ("feature_names", features)):
        for i, text in enumerate(names):
            fault = name_fault(text)
            if fault:
                raise DataError(f"{path}: {what}[{i}] {fault}")
    if is_test is None or is_test.shape != y.shape:
        is_test = stratified_split(y, 0.2, seed=0)
    return Dataset(name or path.stem, X, y.astype(np.int64), is_test, tuple(classes), tuple(features))


def load_csv(path, target: str, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Load a CSV with a header row (`dwn_mcu.csv_table` has the format and its every fault). `target`
    names the label column (any values; sorted as class names). The test split is a stratified
    `test_fraction` of the rows (seeded), or the rows whose `is_test` column is 1."""
    path = Path(path)
    table = read_csv(path, target)
    classes = _sorted_labels(table.labels)
    if len(classes) < 2:
        raise DataError(f"{path}: column {target!r} has a single class, {classes[0]!r}; a classifier needs at "
                        f"least two")
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[v] for v in table.labels], dtype=np.int64)
    _check(table.X, y, str(path))
    is_test = table.is_test if table.is_test is not None else stratified_split(y, test_fraction, seed)
    return Dataset(path.stem, table.X, y, is_test, tuple(classes), table.feature_names)


def _sorted_labels(labels: list[str]) -> list[str]:
    unique = set(labels)
    try:
        return sorted(unique, key=float)  # numeric labels in numeric order ("2" before "10")
    except ValueError:
        return sorted(unique)


def dataset_dirs() -> list[Path]:
    dirs = [BUNDLED_DIR]
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]))
    return dirs


def available_datasets() -> list[str]:
    names = set()
    for d in dataset_dirs():
        if d.is_dir():
            names |= {p.stem for p in d.glob("*.npz")}
    return sorted(names)


def load_dataset(name: str) -> Dataset:
    """Find `NAME.npz` in the bundled folder or in `$DWN_MCU_DATA`."""
    for d in dataset_dirs():
        p = d / f"{name}.npz"
        if p.is_file():
            return load_npz(p, name)
    known = ", ".join(available_datasets()) or "none"
    hint = "" if os.environ.get(DATA_ENV) else f" (set {DATA_ENV} to a folder of .npz datasets for more)"
    raise DataError(f"unknown dataset {name!r}; available: {known}{hint}")


def load_data(data: str | None = None, target: str | None = None, dataset: str | None = None) -> Dataset:
    """One entry point for the CLI: a CSV (with `target`), an `.npz` file, or a named dataset."""
    if dataset:
        return load_dataset(dataset)
    if not data:
        raise DataError("give --data PATH or --dataset NAME")
    if str(data).lower().endswith(".npz"):
        return load_npz(data)
    if not target:
        raise DataError(f"{data}: a CSV needs --target COLUMN")
    return load_csv(data, target)
