"""`dwn-mcu train --input-type`: train on quantized features, write the integer model, report its accuracy."""

import numpy as np
import pytest

from dwn_mcu import load
from dwn_mcu.cli import main
from dwn_mcu.integer_inputs import dequantize

pytest.importorskip("torch")
QUICK = ["--luts", "20", "--bits", "4", "--epochs", "2", "--quiet"]


def test_train_integer_inputs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 3)) * [1.0, 50.0, 0.01]).astype(np.float32)
    y = (X[:, 0] + X[:, 1] / 50 > 0).astype(np.int64)
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=y, is_test=np.arange(300) >= 200)
    out = tmp_path / "m.dwn"
    assert main(["train", "--data", str(data), *QUICK, "--input-type", "int8", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    model = load(out)
    assert model.input_type == "int8"
    lo, hi = X[:200].min(axis=0), X[:200].max(axis=0)  # fitted: the training range onto -128..127
    assert np.allclose(dequantize(np.full(3, -128), model.input_scale, model.input_offset), lo, rtol=1e-5, atol=1e-6)
    assert np.allclose(dequantize(np.full(3, 127), model.input_scale, model.input_offset), hi, rtol=1e-5, atol=1e-6)
    K = model.quantize(X[200:])
    accuracy = float(np.mean(model.predict(K) == y[200:]))
    assert f"test accuracy  {accuracy:.4f} (NumPy reference on the quantized test split)" in text
    assert model.metadata["test_accuracy"] == accuracy
    assert "NumPy == torch on 100/100 test rows" in text

    # stated scale and offset, one per feature or one for all; a wrong count is a one-line error
    assert main(["train", "--data", str(data), *QUICK, "--input-type", "uint16", "--input-scale", "0.001,0.1,1e-5",
                 "--input-offset", "-30", "--force", "-o", str(out)]) == 0
    model = load(out)
    assert np.array_equal(model.input_scale, [0.001, 0.1, 1e-5]) and np.array_equal(model.input_offset, [-30.0] * 3)
    assert main(["train", "--data", str(data), *QUICK, "--input-type", "int16", "--input-scale", "1,2",
                 "--force", "-o", str(out)]) == 2
    assert "--input-scale: 2 values for 3 features" in capsys.readouterr().err
