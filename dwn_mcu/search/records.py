"""Trial records: DIR/trials.csv (every trial, in trial-number order, rewritten atomically after each
finished trial so that an interrupted search loses nothing it finished) and DIR/search.json (the
manifest: what was searched, on which rows; --resume refuses a folder whose manifest differs).

A record is a dict: number, family, params (dict), seed, status ("ok", "over budget", "failed"),
val_accuracy, flash, ram, latency, fits, error, seconds, cpu_seconds (the worker process's CPU time
for the trial), worker, model (the model file's name in
DIR/models, or ""). Floats are written with `repr`, so a resumed search reads back exactly what the
sampler was told."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np

from ..atomic_write import write_file
from ..errors import DWNError
from .space import SPACES

MANIFEST = "search.json"
TRIALS = "trials.csv"
PARAM_COLUMNS = tuple(dict.fromkeys(name for space in SPACES.values() for name, *_ in space))
COLUMNS = ("number", "family", *PARAM_COLUMNS, "seed", "status", "val_accuracy", "flash", "ram", "latency",
           "fits", "error", "seconds", "cpu_seconds", "worker", "model")
RESULT_KEYS = ("seed", "status", "val_accuracy", "flash", "ram", "latency", "fits", "error", "model")


class ResumeError(DWNError):
    """A --resume folder that is not this search's: another dataset, board, budget, space or seed."""


def data_digest(*arrays) -> str:
    """SHA-256 of the rows a search reads (shapes, dtypes and bytes), so a resumed search is sure to be on
    the same data."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def check_manifest(out: Path, manifest: dict) -> None:
    """ResumeError (one line) unless DIR/search.json describes the same search (the trial count may grow)."""
    path = out / MANIFEST
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ResumeError(f"{out}: no readable {MANIFEST}, so it is not a search folder to resume "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    if not isinstance(old, dict):
        raise ResumeError(f"{path}: not a search manifest")
    for key in sorted(set(manifest) | set(old)):
        if key != "trials" and old.get(key) != manifest.get(key):
            raise ResumeError(f"{out}: was a search with another {key} ({_short(old.get(key))}, "
                              f"not {_short(manifest.get(key))}); resume it with the same options")


def _short(v) -> str:
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return " ".join(str(v).split())  # one line per record, whatever an error message held


def to_csv(records: list) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(records, key=lambda r: r["number"]):
        row = {**r, **r["params"]}
        w.writerow([_cell(row.get(c)) for c in COLUMNS])
    return buf.getvalue().encode()


def write_trials(out: Path, records: list) -> None:
    write_file(out / TRIALS, to_csv(records))


def _parse(kind: str, text: str):
    """A parameter's cell: floats for float dimensions, else integers (every categorical choice is one)."""
    return float(text) if kind.startswith("float") else int(text)


def _number_or_none(text: str, conv):
    return None if text == "" else conv(text)


def read_trials(out: Path) -> list:
    """The records of DIR/trials.csv (none when the file is missing); ResumeError on a file it did not write."""
    path = out / TRIALS
    if not path.is_file():
        return []
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        return [_record(r) for r in rows]
    except (KeyError, ValueError, TypeError) as exc:
        raise ResumeError(f"{path}: not a trials file this search wrote ({exc})") from None


def _record(row: dict) -> dict:
    family = row["family"]
    kind_of = {name: kind for name, kind, _ in SPACES[family]}
    params = {name: _parse(kind, row[name]) for name, kind in kind_of.items()}
    acc = _number_or_none(row["val_accuracy"], float)
    return {"number": int(row["number"]), "family": family, "params": params, "seed": int(row["seed"]),
            "status": row["status"], "val_accuracy": float("nan") if acc is None else acc,
            "flash": _number_or_none(row["flash"], int), "ram": _number_or_none(row["ram"], int),
            "latency": _number_or_none(row["latency"], int), "fits": row["fits"] == "yes",
            "error": row["error"], "seconds": _number_or_none(row["seconds"], float),
            "cpu_seconds": _number_or_none(row["cpu_seconds"], float), "worker": row["worker"],
            "model": row["model"]}
