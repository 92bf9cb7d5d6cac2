"""`train`'s default shape from the data (dwn_mcu/default_shape.py): the rule's outputs for a few data
shapes, and explicit --luts / --bits / --lut-inputs winning over it."""

import numpy as np
import pytest

from dwn_mcu.default_shape import BASE_LUTS, default_shape


@pytest.mark.parametrize("rows, features, classes, luts, bits", [
    (4323, 5, 2, (200,), 32),      # phoneme: few classes keep the old default exactly (make demo)
    (552, 14, 2, (200,), 32),      # australian
    (1848, 19, 7, (224,), 32),     # segment: 32 per class
    (1437, 64, 10, (320,), 30),    # digits: 320 LUTs x 6 inputs read 1920 bits: 30 per feature
    (56000, 784, 10, (320,), 2),   # MNIST: 784 features, 2 thresholds each
    (16000, 16, 26, (832,), 32),   # a letter-sized 26-class set: 32 per class, not 8
    (1280, 16, 26, (650,), 32),    # the same with 1280 rows: one LUT per 2 rows, 640 rounded up to 26s
    (300, 16, 26, (208,), 32),     # very few rows: never under 8 per class
    (96, 3, 2, (48,), 32),         # a tiny binary set: 48 LUTs, not 200
])
def test_the_rule_sizes_the_model_from_the_data(rows, features, classes, luts, bits):
    shape = default_shape(rows, features, classes)
    assert (shape.luts, shape.lut_inputs, shape.bits) == (luts, 6, bits)
    assert shape.luts[-1] % classes == 0 and shape.luts[-1] >= min(BASE_LUTS, rows // 2)
    assert bool(shape.reasons) == ((luts, bits) != ((200,), 32))  # the rule says why it left the old default


def test_explicit_values_win_one_by_one():
    assert default_shape(16000, 16, 26, luts=(50, 26)).luts == (50, 26)  # kept as given, even not a multiple
    assert default_shape(16000, 16, 26, bits=3).bits == 3
    assert default_shape(16000, 16, 26, lut_inputs=4).lut_inputs == 4
    # bits follow the LUT inputs that read them, given or chosen: 20 LUTs x 4 inputs over 40 features
    assert default_shape(1000, 40, 2, luts=(20,), lut_inputs=4).bits == 2
    given = default_shape(16000, 16, 26, luts=(100,), lut_inputs=6, bits=8)
    assert (given.luts, given.lut_inputs, given.bits, given.reasons) == ((100,), 6, 8, ())


def test_no_shape_for_data_without_rows_features_or_two_classes():
    for args in ((0, 5, 2), (10, 0, 2), (10, 5, 1)):
        with pytest.raises(ValueError, match="no shape for"):
            default_shape(*args)


def _many_classes(tmp_path, classes=26, per_class=20):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(classes), per_class)
    X = (rng.normal(size=(y.size, 4)) + y[:, None] * 0.5).astype(np.float32)
    path = tmp_path / "many.npz"
    np.savez(path, X=X, y=y)
    return path


def test_train_without_a_shape_uses_the_rule_and_says_why(tmp_path, capsys):
    pytest.importorskip("torch", reason="training needs torch")
    from dwn_mcu import load
    from dwn_mcu.cli import main

    path = _many_classes(tmp_path)  # 520 rows, 416 for training: 26 x 32 LUTs capped at one per 2 rows
    assert main(["train", "--data", str(path), "--epochs", "1", "--quiet", "-o", str(tmp_path / "m.dwn")]) == 0
    out = capsys.readouterr().out
    want = default_shape(416, 4, 26)
    assert want.luts == (208,) and want.bits == 32
    model = load(tmp_path / "m.dwn")
    assert [layer.num_luts for layer in model.layers] == [208] and set(model.layers[0].n_inputs) == {6}
    assert ("note: shape from the data: 32 LUTs per class for 26 classes; at most one LUT per 2 of the 416 "
            "training rows (--luts, --bits, --lut-inputs override)") in out


def test_train_with_explicit_flags_ignores_the_rule(tmp_path, capsys):
    pytest.importorskip("torch", reason="training needs torch")
    from dwn_mcu import load
    from dwn_mcu.cli import main

    path = _many_classes(tmp_path)
    assert main(["train", "--data", str(path), "--luts", "52", "--lut-inputs", "4", "--bits", "3", "--epochs", "1",
                 "--quiet", "-o", str(tmp_path / "m.dwn")]) == 0
    out = capsys.readouterr().out
    model = load(tmp_path / "m.dwn")
    assert [layer.num_luts for layer in model.layers] == [52] and set(model.layers[0].n_inputs) == {4}
    assert max(model.bits_per_feature) <= 3 and "shape from the data" not in out
