"""The optimizer on a quickly trained small phoneme model: exact on the test split, and smaller."""

import numpy as np
import pytest
from conftest import shared_dataset

from dwn_mcu.optimize import optimize
from dwn_mcu.synthetic import adversarial_inputs

classifier = pytest.importorskip("dwn_mcu.training.classifier", reason="the trainer is not installed")


def test_trained_phoneme_model_optimizes_exactly():
    data = shared_dataset("phoneme")
    X, y = data.train_split()
    clf = classifier.DWNClassifier(luts=(20,), lut_inputs=6, bits=16, mapping="learnable", epochs=2, seed=0,
                                   verbose=False, device="cpu")
    model = clf.fit(X, y).freeze()
    small, report = optimize(model)
    X_test, _ = data.test_split()
    probe = np.concatenate([X_test, adversarial_inputs(model, seed=0)])
    np.testing.assert_array_equal(small.scores(probe), model.scores(probe))
    assert report.removed["unused_thresholds"]["thresholds"] > 0  # 120 reads of 80 bits leave some unread
    assert report.after["total_bits"] < report.before["total_bits"]
