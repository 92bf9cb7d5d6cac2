"""`dwn-mcu verify` does not trust the project's vectors: it always runs the vectors it derives from the
model too, so a tampered library fails even when `dwn/vectors.npy` is replaced; a malformed or empty
vectors file (or report name) is one line and exit 2."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dwn_mcu.cli import main
from dwn_mcu.compiler import build_project
from dwn_mcu.compiler.host import HostModel
from dwn_mcu.compiler.project import VECTORS, derived_vectors, load_project
from dwn_mcu.synthetic import random_model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
LIB = Path("lib/dwn_model/src")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    model = random_model(5, num_features=4, luts=(48, 24), n=4, num_classes=3)
    out = tmp_path_factory.mktemp("verify") / "out"
    build_project(model, "nano", out, layout="table", optimize=False)
    return out


@pytest.fixture()
def copy(project, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(project, out)
    return out


def _tamper_last_table(out: Path) -> str:
    """Flip every bit of the first byte of the last layer's table in the generated .c file."""
    path = out / LIB / "dwn_model.c"
    text = path.read_text()
    tab = re.compile(r"(static const uint8_t dwn_model_l2_tab\[[^\]]*\][^{]*\{\n\s*)0x([0-9A-F]{2})")
    m = tab.search(text)
    assert m is not None
    flipped = f"0x{int(m.group(2), 16) ^ 0xFF:02X}"
    path.write_text(text[: m.start(2) - 2] + flipped + text[m.end(2):])
    return path.read_text()


def _agreeing_row(out: Path, model) -> np.ndarray:
    """A derived vector on which the tampered library still gives the reference's answer (so it alone
    would let the tampered C pass), and check that some derived vector exposes the tamper."""
    X = derived_vectors(model)
    sources = {p.name: p.read_text() for p in (out / LIB).iterdir()}
    with HostModel(sources, "dwn_model", model.num_classes) as host:
        classes, scores = host.run(X)
    same = (classes == model.predict(X)) & np.all(scores == model.scores(X), axis=1)
    assert same.any() and not same.all()
    return X[np.flatnonzero(same)[:1]]


@needs_gcc
def test_untampered_project_passes_on_the_same_vectors(copy, capsys):
    project = load_project(copy)
    stored = np.load(copy / VECTORS)
    assert project.stored_vectors == stored.shape[0] == project.vectors.shape[0]  # derived ones are all stored
    assert main(["verify", str(copy), "--target", "host"]) == 0
    assert f"vectors: {stored.shape[0]} " in capsys.readouterr().out


@needs_gcc
def test_tampered_c_fails_even_with_a_one_row_vectors_file(copy, capsys):
    model = load_project(copy).model
    _tamper_last_table(copy)
    row = _agreeing_row(copy, model)
    np.save(copy / VECTORS, row.astype(np.float32))
    project = load_project(copy)
    assert project.stored_vectors == 1 and project.vectors.shape[0] == derived_vectors(model).shape[0]
    assert main(["verify", str(copy), "--target", "host"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL (host" in printed and "PASS" not in printed


@pytest.mark.parametrize("content, why", [
    (np.zeros((0, 4), np.float32), "no vectors (0 rows)"),
    (np.zeros((3, 5), np.float32), "does not match 4 features"),
    (np.zeros(4, np.float32), "does not match 4 features"),
    (np.array([["a", "b", "c", "d"]]), "expected numbers"),
    (b"not an npy file", "unreadable"),
    (np.array([[object(), 1, 2, 3]], dtype=object), "unreadable"),  # a pickle: never loaded
])
def test_malformed_vectors_are_one_line(copy, capsys, content, why):
    path = copy / VECTORS
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content, allow_pickle=True)
    assert main(["verify", str(copy), "--target", "host"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert why in err and "\n" not in err and "Traceback" not in err and "PASS" not in captured.out


@pytest.mark.parametrize("name", ["../../etc", "dwn model", 7])
def test_report_name_must_be_a_c_identifier(copy, capsys, name):
    report = json.loads((copy / "dwn_report.json").read_text())
    report["name"] = name
    (copy / "dwn_report.json").write_text(json.dumps(report))
    assert main(["verify", str(copy), "--target", "host"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a C identifier" in err and "\n" not in err
