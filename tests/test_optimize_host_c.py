"""Host C: the original and the optimized model, both compiled by the compiler's host path (both
layouts), give the reference's classes and scores; the optimized one has mixed input counts, n = 0
LUTs and a class bias, all of which the C must express."""

import shutil

import numpy as np
import pytest

from dwn_mcu.optimize import optimize
from planted import cell_inputs, planted_model
from dwn_mcu.synthetic import adversarial_inputs

try:
    from dwn_mcu.compiler import compile_host
except ImportError:  # before the compiler is merged
    pytest.skip("the compiler (dwn_mcu.compiler.compile_host) is not installed", allow_module_level=True)

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("seed", [0, 1])
def test_optimized_model_host_c_matches_original(layout, seed):
    model, _ = planted_model(seed, num_features=4, bits_per_feature=5, luts=(40, 24, 12), n=5, num_classes=3,
                             rate=0.15)
    small, report = optimize(model)
    assert report.after["total_bits"] < report.before["total_bits"]
    assert np.any(small.layers[-1].n_inputs == 0) or np.any(small.class_bias != model.class_bias)
    X = np.concatenate([cell_inputs(model), adversarial_inputs(model, seed=seed)])
    want_classes, want_scores = model.predict(X), model.scores(X)
    for m in (model, small):
        with compile_host(m, layout=layout, build="strict") as host:
            classes, scores = host.run(X)
        np.testing.assert_array_equal(classes, want_classes)
        np.testing.assert_array_equal(scores, want_scores)
