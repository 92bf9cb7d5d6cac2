"""`dwn-mcu train` and `dwn-mcu info`: a working run, and one line plus exit 2 for every bad input."""

import numpy as np
import pytest

from dwn_mcu import load
from dwn_mcu.cli import main

QUICK = ["--luts", "20", "--bits", "4", "--epochs", "2", "--quiet"]


def run(argv, capsys):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse rejects bad options by exiting
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    label = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    path = tmp_path / "data.csv"
    lines = ["a,b,label,c"] + [f"{x[0]:.4f},{x[1]:.4f},{lab},{x[2]:.4f}" for x, lab in zip(X, label)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_bundled_dataset_writes_model_and_reports(tmp_path, capsys):
    out = tmp_path / "sub" / "m.dwn"
    code, text, err = run(["train", "--dataset", "phoneme", *QUICK, "-o", out], capsys)
    assert code == 0, err
    assert "test accuracy" in text and "model size" in text
    model = load(out)
    assert model.metadata["dataset"] == "phoneme"
    acc = float(text.split("test accuracy")[1].split()[0])
    assert acc == pytest.approx(model.metadata["test_accuracy"], abs=1e-4)
    size = int(text.split("model size")[1].split()[0])
    assert size == model.size_bits()["total_bits"]
    assert [p.name for p in out.parent.iterdir()] == ["m.dwn"]  # nothing temporary left behind

    # an existing output is refused without --force, and replaced with it
    before = out.read_bytes()
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "-o", out], capsys)
    one_line_error(code, err, "already exists", "--force")
    assert out.read_bytes() == before
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "--seed", "1", "--force", "-o", out], capsys)
    assert code == 0, err

    code, text, _ = run(["info", out], capsys)
    assert code == 0 and "20 LUTs" in text and "classes" in text


def test_train_csv_with_target_and_rounding(tmp_path, csv_file, capsys):
    out = tmp_path / "m.dwn"
    code, text, err = run(["train", "--data", csv_file, "--target", "label", "--luts", "15",
                           "--bits", "4", "--epochs", "2", "--quiet", "-o", out], capsys)
    assert code == 0, err
    assert "rounded up to 16" in text
    model = load(out)
    assert model.class_names == ("no", "yes") and model.feature_names == ("a", "b", "c")
    assert model.layers[-1].num_luts == 16


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--luts", "0"], "--luts"),
        (["--luts", "10,x"], "--luts"),
        (["--luts", ""], "--luts"),
        (["--lut-inputs", "20"], "--lut-inputs"),
        (["--lut-inputs", "0"], "--lut-inputs"),
        (["--bits", "0"], "--bits"),
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "many"], "--epochs"),
        (["--lr", "-1"], "--lr"),
        (["--encoding", "fancy"], "--encoding"),
        (["--mapping", "fancy"], "--mapping"),
        (["--seed", "-3"], "--seed"),
    ],
)
def test_bad_option_values(tmp_path, capsys, args, needle):
    code, _, err = run(["train", "--dataset", "phoneme", *args, "-o", tmp_path / "m.dwn"], capsys)
    one_line_error(code, err, needle)
    assert not (tmp_path / "m.dwn").exists()


def test_missing_source_and_output(tmp_path, capsys):
    code, _, err = run(["train", "-o", tmp_path / "m.dwn"], capsys)
    one_line_error(code, err, "--data")
    code, _, err = run(["train", "--dataset", "phoneme"], capsys)
    one_line_error(code, err, "-o")


@pytest.mark.parametrize(
    "content, args, needles",
    [
        (None, ["--target", "label"], ["no such file"]),
        ("a,label\n1,x\n2,y\nfoo,x\n", ["--target", "label"], ["row 4", "'a'", "'foo'", "not a number"]),
        ("a,label\n1,x\n2,y\n", ["--target", "kind"], ["no column named 'kind'"]),
        ("a,label\n1,x\n2,y\n", [], ["--target"]),
        ("", ["--target", "label"], ["empty file"]),
        ("a,label\n1,x\n2\n", ["--target", "label"], ["row 3"]),
        ("a,label\n1,x\n2,x\n", ["--target", "label"], ["single class"]),
    ],
)
def test_bad_csv(tmp_path, capsys, content, args, needles):
    path = tmp_path / "d.csv"
    if content is not None:
        path.write_text(content)
    code, _, err = run(["train", "--data", path, *args, *QUICK, "-o", tmp_path / "m.dwn"], capsys)
    one_line_error(code, err, str(path), *needles)
    assert not (tmp_path / "m.dwn").exists()


def test_unknown_dataset(tmp_path, capsys):
    code, _, err = run(["train", "--dataset", "no_such_set", "-o", tmp_path / "m.dwn"], capsys)
    one_line_error(code, err, "unknown dataset 'no_such_set'", "phoneme")


def test_bad_npz(tmp_path, capsys):
    path = tmp_path / "d.npz"
    path.write_bytes(b"not a zip")
    code, _, err = run(["train", "--data", path, "-o", tmp_path / "m.dwn"], capsys)
    one_line_error(code, err, str(path))


def test_unknown_device(tmp_path, capsys):
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "--device", "abacus", "-o", tmp_path / "m.dwn"],
                       capsys)
    one_line_error(code, err, "device 'abacus'")
    assert not (tmp_path / "m.dwn").exists()


def test_output_is_a_folder(tmp_path, capsys):
    code, _, err = run(["train", "--dataset", "phoneme", *QUICK, "-o", tmp_path], capsys)
    one_line_error(code, err, "folder")


@pytest.mark.parametrize("content", [None, b"", b"garbage", b"PK\x03\x04truncated"])
def test_info_unreadable_model(tmp_path, capsys, content):
    path = tmp_path / "m.dwn"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run(["info", path], capsys)
    one_line_error(code, err, str(path))


def test_spectral_and_float16_grid_options(tmp_path):
    from dwn_mcu.threshold_grid import fits_float16_grid

    out = tmp_path / "m.dwn"
    code = main(["train", "--dataset", "phoneme", "--luts", "20", "--epochs", "2", "--quiet", "--spectral", "0.1",
                 "--threshold-grid", "float16", "-o", str(out)])
    assert code == 0
    model = load(out)
    assert fits_float16_grid(model.thresholds) and model.num_input_bits > 0
    assert main(["train", "--dataset", "phoneme", "--spectral", "-1", "-o", str(tmp_path / "x.dwn")]) == 2
