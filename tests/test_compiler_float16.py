"""Thresholds on the float16 grid are stored as 16-bit keys, and the C's comparison stays exact for
every float32 input (NaN, infinities, subnormals, both zeros, every value near a threshold)."""

import dataclasses

import numpy as np
import pytest

from dwn_mcu.compiler import compile_host, make_plan, get_board, render_model_sources
from dwn_mcu.compiler.host import compare
from dwn_mcu.threshold_grid import fits_float16_grid, snap_thermometer_to_float16
from dwn_mcu.synthetic import adversarial_inputs, random_model


def float16_model(seed=0, bits=(40, 1, 60, 20, 15, 4)):
    base = random_model(seed=seed, num_features=6, bits_per_feature=list(bits), luts=(48, 12), n=[6, 4],
                        num_classes=3)
    # Spread the thresholds over float16's whole range (subnormals to 65504) before snapping.
    rng = np.random.default_rng(seed)
    spread = base.thresholds * np.float32(10.0) ** rng.integers(-7, 5, size=base.thresholds.size).astype(np.float32)
    per = np.split(spread, np.cumsum(base.bits_per_feature)[:-1])
    spread = np.concatenate([np.sort(p) for p in per]).astype(np.float32)
    thresholds, counts = snap_thermometer_to_float16(spread, base.bits_per_feature)
    # Keep the first layer's mapping valid for the (possibly fewer) bits.
    layer = base.layers[0]
    layer = dataclasses.replace(layer, mapping=layer.mapping % thresholds.size)
    model = dataclasses.replace(base, thresholds=thresholds, bits_per_feature=counts,
                                layers=(layer, *base.layers[1:])).validate()
    assert fits_float16_grid(model.thresholds)
    return model


def probe_inputs(model, seed=0):
    """Adversarial rows, plus every float32 within 3 ulp of each threshold and of its float16 neighbours,
    plus random bit patterns (all exponents: subnormals, huge values, NaN payloads)."""
    rng = np.random.default_rng(seed)
    rows = [adversarial_inputs(model, seed=seed)]
    F = model.num_features
    for f, t in enumerate(model.feature_thresholds):
        near = []
        for v in t:
            h = np.float16(v)
            for c in (v, np.float32(np.nextafter(h, np.float16(np.inf))), np.float32(np.nextafter(h, np.float16(-np.inf)))):
                x = np.float32(c)
                for _ in range(3):
                    x = np.nextafter(x, np.float32(-np.inf))
                for _ in range(7):
                    near.append(x)
                    x = np.nextafter(x, np.float32(np.inf))
        block = rng.normal(size=(len(near), F)).astype(np.float32)
        block[:, f] = near
        rows.append(block)
    rows.append(rng.integers(0, 2**32, size=(4000, F), dtype=np.uint64).astype(np.uint32).view(np.float32))
    return np.concatenate(rows)


@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("build", ["strict", "sanitize"])
def test_float16_keys_are_exact(layout, build):
    model = float16_model(seed=1)
    X = probe_inputs(model)
    with compile_host(model, layout=layout, build=build) as host:
        classes, scores = host.run(X)
        result = compare(model, X, classes, scores, host.build)
    assert result.ok, result


def test_float16_keys_halve_the_threshold_flash():
    model = float16_model(seed=2)
    plan = make_plan(model, get_board("nano"), "m", "table", encoder="table")  # the threshold table
    assert plan.key_ctype == "uint16_t"
    counts_bytes = plan.flash["thresholds"] - 2 * model.num_input_bits
    assert 0 < counts_bytes <= 2 * model.num_features
    from dwn_mcu.compiler.program import pack_program
    from dwn_mcu.compiler.render import render_library

    text = render_library(pack_program(model, plan))["m.c"]
    assert "static const uint16_t m_thresholds[" in text
    # Few thresholds do not pay for the key function's code: 32-bit keys then.
    few = float16_model(seed=2, bits=[3, 1, 4, 2, 2, 1])
    assert make_plan(few, get_board("nano"), "m", "table").key_ctype == "uint32_t"
    # A threshold off the grid brings 32-bit keys back.
    off = dataclasses.replace(model, thresholds=np.nextafter(model.thresholds, np.float32(np.inf))).validate()
    assert make_plan(off, get_board("nano"), "m", "table").key_ctype == "uint32_t"


@pytest.mark.parametrize("target, board", [("avr", "nano"), ("cortex-m0plus", "pico")])
def test_float16_keys_on_emulated_chips(target, board):
    from target_tools import require_target
    from dwn_mcu.targets.verify import verify_on_target

    require_target(target)
    model = float16_model(seed=1)
    X = probe_inputs(model)[:300]
    for layout in ("table", "unrolled"):
        sources = render_model_sources(model, board, "m", layout, check_budget=False)
        result = verify_on_target(model, target, X, sources, "m", measure_model_share=False)
        assert result.first_mismatch is None and result.agree == result.vectors == X.shape[0]
