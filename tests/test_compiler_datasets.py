"""Real data through the host C: the whole test split of every shared tabular dataset and MNIST's 10 000
test images. No trainer on this branch: the models are random LUT networks whose thresholds are fitted
as quantiles of the training rows (what a distributive thermometer does), so the encoder sees real
feature values, ties and repeated values exactly as a trained model would."""

import shutil

import numpy as np
import pytest
from conftest import TABULAR, shared_dataset
from test_compiler_pack import mixed_model

from dwn_mcu.compiler import compile_host
from dwn_mcu.compiler.host import compare

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


def quantile_thresholds(X_train, bits):
    out = []
    for f in range(X_train.shape[1]):
        col = X_train[:, f]
        q = np.quantile(col[np.isfinite(col)], (np.arange(bits) + 1) / (bits + 1)).astype(np.float32)
        out.append(np.unique(q))
    return out


def check(model, X, layout, build, board="nucleo_f401re"):
    with compile_host(model, board=board, layout=layout, build=build) as host:
        classes, scores = host.run(X)
    result = compare(model, X, classes, scores, build)
    assert result.ok, f"{result.mismatches} of {result.vectors} differ; first {result.first}"
    return classes


@pytest.mark.parametrize("name", TABULAR)
def test_tabular_test_split(name):
    data = shared_dataset(name)
    X_train, _ = data.train_split()
    X_test, y_test = data.test_split()
    C = data.num_classes
    model = mixed_model(seed=len(name), thresholds=quantile_thresholds(X_train, 12), luts=(101, 10 * C),
                        n_range=(4, 6), num_classes=C)
    for layout in ("table", "unrolled"):
        for build in ("strict", "sanitize"):
            check(model, X_test, layout, build)


def test_mnist_test_set():
    data = shared_dataset("mnist")
    X_train, _ = data.train_split()
    X_test, _ = data.test_split()
    assert X_test.shape == (10000, 784)
    # pixels are integers 0..255: quantiles repeat, unique() keeps 1-3 thresholds per pixel, some none
    thresholds = quantile_thresholds(X_train[::10], 3)
    model = mixed_model(seed=7, thresholds=thresholds, luts=(1000, 500), n_range=(6, 6), num_classes=10)
    assert model.num_features == 784
    check(model, X_test, "table", "strict")
    check(model, X_test, "table", "sanitize")
    # (the unrolled form of a 1500-LUT model takes gcc half a minute: the unrolled layout is proven on the
    # tabular sets, the adversarial vectors and the property tests)
