"""Fuzzing the CSV loader with mutants of a valid file, made afresh every run (seeded, so a failure
repeats): each one loads as a valid dataset or raises a one-line DataError naming the file; a few go
through `dwn-mcu train` in a subprocess, which exits 0 or 2 with one stderr line and no traceback."""

import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dwn_mcu import DataError
from dwn_mcu.data import load_csv

ROOT = Path(__file__).resolve().parents[1]
TARGET = "label"
LABELS = ["x", "y", "zé", "10", "2", " w ", "NA", "nan", "", "a,b", 'q"']
CELLS = ["", "NA", "nan", "-nan", "?", "inf", "-inf", "1e39", "1e-45", "0x10", "1_000", "  3 ", "abc", "１",
         '"', '""', '"1"', "1,5", "\t", "\x00", "\r", "\n", "é", "9" * 400]
SNIPPETS = [b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\x00", b'"', b",", b";", b"\t", b"\r", b"\n", b"\r\n",
            b"\xc3", "é".encode(), b"inf", b"nan", b"label", b"is_test"]


def make_csv(pick) -> bytes:
    """A valid CSV, then up to four mutations. `pick(n)` chooses 0..n-1 (hypothesis or a seeded random)."""
    n_rows, n_feat = 1 + pick(12), pick(5)
    names = [f"f{i}" for i in range(n_feat)]
    col = pick(n_feat + 1)
    header = names[:col] + [TARGET] + names[col:]
    rows = [[f"{(r * 7 + c * 3) % 11 - 5}.{pick(10)}" for c in range(n_feat)] for r in range(n_rows)]
    for r, row in enumerate(rows):
        row.insert(col, ["x", "y", "zé"][(r + pick(2)) % 3])
    table = [header] + rows
    for _ in range(pick(3)):
        table = _mutate_table(table, pick)
    sep = [",", ",", ",", ",", ",", ",", ";", "\t"][pick(8)]
    eol = ["\n", "\r\n", "\r"][pick(3)]
    text = eol.join(sep.join(row) for row in table) + eol * pick(3)
    data = text.encode("utf-8") if pick(8) else text.encode(["utf-16", "latin-1", "utf-8-sig"][pick(3)], "replace")
    for _ in range(pick(4) // 2):
        data = _mutate_bytes(data, pick)
    return data


def _mutate_table(table, pick):
    rows = [list(r) for r in table]
    if not rows:
        return rows
    r, kind = pick(len(rows)), pick(9)
    row = rows[r]
    if kind == 0:
        _set(row, pick, CELLS[pick(len(CELLS))])  # an odd cell
    elif kind == 1:
        _set(rows[0], pick, [TARGET, "is_test", "", rows[0][0] if rows[0] else "", " label "][pick(5)])
    elif kind == 2 and TARGET in rows[0] and len(rows) > 1:
        row = rows[1 + pick(len(rows) - 1)]
        if len(row) == len(rows[0]):
            row[rows[0].index(TARGET)] = LABELS[pick(len(LABELS))]  # an odd or missing label
    elif kind == 3:
        rows[r] = row[:-1] if pick(2) else row + ["1"]  # ragged
    elif kind == 4:
        rows = rows[:pick(len(rows) + 1)]  # truncated: header only, or nothing
    elif kind == 5:
        rows.insert(pick(len(rows) + 1), [])  # a blank line
    elif kind == 6 and row:
        c = pick(len(row))
        row[c] = f'"{row[c]}' + ('"' if pick(2) else "")  # quoted, perhaps unclosed
    elif kind == 7:
        _set(row, pick, "9" * (1000 + 200_000 * pick(2)))  # a long cell, perhaps past the csv module's limit
    elif kind == 8 and len(rows) > 1:
        rows = [rows[0]] + [rows[1]] * (len(rows) - 1)  # one class
    return rows


def _set(row, pick, value):
    if row:
        row[pick(len(row))] = value


def _mutate_bytes(data, pick):
    at = pick(len(data) + 1)
    kind = pick(3)
    if kind == 0:
        return data[:at] + SNIPPETS[pick(len(SNIPPETS))] + data[at:]
    if kind == 1:
        return data[:at]
    return data[:at] + bytes([pick(256)]) + data[at + 1:]


def check_loaded_or_one_line(path: Path) -> str:
    """Load `path`; a dataset must be valid, an error one line naming the file. Returns "ok" or "error"."""
    try:
        d = load_csv(path, TARGET)
    except DataError as exc:
        msg = str(exc)
        assert "\n" not in msg and "\r" not in msg and len(msg) < 600, repr(msg)
        assert msg.startswith(str(path)), msg
        return "error"
    N, F = d.X.shape
    assert d.X.dtype == np.float32 and N >= 2 and F >= 1 and not np.isinf(d.X).any()
    assert d.y.dtype == np.int64 and d.y.shape == (N,) and d.is_test.shape == (N,) and d.is_test.dtype == bool
    assert d.num_classes >= 2 and sorted(set(d.y.tolist())) == list(range(d.num_classes))
    assert len(set(d.class_names)) == d.num_classes and len(d.feature_names) == F == len(set(d.feature_names))
    for name in d.class_names + d.feature_names:
        assert name and name == name.strip() and name.isprintable()
    assert not {c.lower() for c in d.class_names} & {"", "na", "nan", "?", "null"}  # a missing label is no class
    assert TARGET not in d.feature_names and (~d.is_test).any()
    return "ok"


@settings(max_examples=800, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_loader_mutants_load_or_fail_in_one_line(tmp_path, data):
    path = tmp_path / "mutant.csv"
    path.write_bytes(make_csv(lambda n: data.draw(st.integers(0, n - 1)) if n > 1 else 0))
    check_loaded_or_one_line(path)


def test_the_mutants_cover_both_outcomes(tmp_path):
    """The generator is worth its time only if it makes loadable files and every kind of bad one."""
    rng = random.Random(12)
    outcomes = {}
    for i in range(300):
        path = tmp_path / f"m{i}.csv"
        path.write_bytes(make_csv(lambda n: rng.randrange(n) if n > 1 else 0))
        try:
            load_csv(path, TARGET)
            outcomes["ok"] = outcomes.get("ok", 0) + 1
        except DataError as exc:
            kind = " ".join(str(exc).split(": ", 1)[1].split(" ")[:2])
            outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes.get("ok", 0) >= 30, outcomes
    assert len(outcomes) >= 12, outcomes


TRAIN = ["--epochs", "1", "--luts", "2", "--lut-inputs", "2", "--bits", "2", "--quiet", "--device", "cpu"]


def _train(path: Path):
    out = path.with_suffix(".dwn")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "dwn_mcu", "train", "--data", str(path), "--target", TARGET,
                           *TRAIN, "-o", str(out)], capture_output=True, text=True, timeout=30, env=env)
    return proc, out


@pytest.mark.slow
def test_train_cli_on_mutants_exits_0_or_2_in_one_line(tmp_path):
    pytest.importorskip("torch")
    rng = random.Random(2026)
    chosen = {"ok": [], "error": []}
    for i in range(200):
        path = tmp_path / f"m{i}.csv"
        path.write_bytes(make_csv(lambda n: rng.randrange(n) if n > 1 else 0))
        kind = check_loaded_or_one_line(path)
        if len(chosen[kind]) < (3 if kind == "ok" else 1):
            chosen[kind].append(path)
    paths = chosen["ok"] + chosen["error"]
    assert len(paths) == 4
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_train, paths))
    for path, (proc, out) in zip(paths, results):
        assert "Traceback" not in proc.stderr + proc.stdout, (path.read_bytes()[:300], proc.stderr)
        assert proc.returncode in (0, 2), (path.read_bytes()[:300], proc.returncode, proc.stderr)
        if proc.returncode == 2:
            assert len(proc.stderr.strip().splitlines()) == 1 and str(path) in proc.stderr, proc.stderr
            assert not out.exists()
        else:
            assert out.is_file() and "wrote" in proc.stdout
    assert [r[0].returncode for r in results].count(2) >= 1
