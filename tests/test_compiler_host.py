"""Host proof: the generated C, compiled by gcc (-Werror, and under ASan+UBSan), gives the reference's
classes and scores on adversarial vectors and on random models of every shape the format allows."""

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compiler_pack import SPECIAL, mixed_model

from dwn_mcu.compiler import compile_host, render_model_sources
from dwn_mcu.compiler.host import HostModel, compare
from dwn_mcu.synthetic import adversarial_inputs, random_model

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


def adversarial(model, seed=0):
    F = model.num_features
    rng = np.random.default_rng(seed)
    specials = rng.choice(SPECIAL, size=(64, F))
    return np.concatenate([adversarial_inputs(model, seed), specials]).astype(np.float32)


def assert_same(host, model, X):
    classes, scores = host.run(X)
    result = compare(model, X, classes, scores, host.build)
    assert result.ok, f"{result.mismatches} mismatches, first {result.first}"


@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("build", ["strict", "sanitize"])
def test_adversarial_vectors_both_layouts_both_builds(layout, build):
    # mixed input counts (0..8), class bias, two layers: everything the optimizer may produce
    model = mixed_model(11, num_features=6, max_bits=7, luts=(37, 12), n_range=(0, 8), num_classes=3)
    with compile_host(model, layout=layout, build=build) as host:
        assert_same(host, model, adversarial(model))


@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_three_layers_sanitized(layout):
    model = random_model(4, num_features=9, bits_per_feature=[1, 2, 3, 4, 5, 6, 7, 8, 200], luts=(90, 45, 30),
                         n=[6, 5, 2], num_classes=10)
    with compile_host(model, layout=layout, build="sanitize") as host:
        assert_same(host, model, adversarial(model, 1))


def test_wide_luts_and_large_scores_use_wide_types():
    # n up to 12 (16-bit addresses), > 256 input bits (12-bit packed mapping), a bias beyond int16
    model = mixed_model(5, num_features=4, max_bits=100, luts=(13, 4), n_range=(9, 12), num_classes=2)
    model = type(model)(thresholds=model.thresholds, bits_per_feature=model.bits_per_feature, layers=model.layers,
                        num_classes=2, class_bias=np.array([40000, -40000])).validate()
    src = render_model_sources(model, "nano33ble", "wide", "table")
    assert "typedef int32_t wide_score_t;" in src["wide.h"]
    assert "uint16_t a = 0u" in src["wide.c"] and "two in three bytes" in src["wide.c"]
    for layout in ("table", "unrolled"):
        with compile_host(model, board="nano33ble", layout=layout, name="wide", build="sanitize") as host:
            assert_same(host, model, adversarial(model, 2))


@pytest.mark.parametrize("bits, fmt, n", [(200, "uint8_t", 5), (4096, "two in three bytes", 5),
                                          (4096, "two at a time", 6), (4097, "uint16_t", 5)])
def test_mapping_formats_at_their_limits(bits, fmt, n):
    # 12-bit indices: odd n walks the pairs one index at a time, even n reads a pair at a time
    model = random_model(6, num_features=1, bits_per_feature=bits, luts=(27, 6), n=[n, 3], num_classes=3)
    src = render_model_sources(model, "pico", "lim", "table")["lim.c"]
    assert fmt in (src if fmt == "two at a time" else src.split("lim_l1_tab")[0])  # map declared before tables
    X = np.concatenate([adversarial_inputs(model, 0, random_rows=50)[::7], model.thresholds[-3:, None]])
    with compile_host(model, board="pico", layout="table", name="lim", build="sanitize") as host:
        assert_same(host, model, X)


@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_model_reading_no_feature(layout):
    # every threshold removed: constant LUTs only, the scores are the same for every input
    model = mixed_model(7, thresholds=[np.zeros(0, np.float32)] * 3, luts=(6, 4), n_range=(0, 0))
    with compile_host(model, layout=layout, build="sanitize") as host:
        assert_same(host, model, adversarial(model)[:20])


def test_predict_and_scores_emlearn_style():
    model = random_model(2, num_features=5, luts=(40, 20), n=[4, 6], num_classes=4)
    X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    with compile_host(model, layout="table") as host:
        assert isinstance(host, HostModel)
        assert np.array_equal(host.predict(X), model.predict(X))
        assert np.array_equal(host.scores(X), model.scores(X))


def test_two_models_link_into_one_program(tmp_path):
    # distinct prefixes: both libraries compile into one runner binary without clashing symbols
    a = random_model(1, num_features=3, luts=(16,), n=4, num_classes=2)
    b = random_model(2, num_features=3, luts=(24,), n=5, num_classes=3)
    sources = {**render_model_sources(a, "nano", "alpha", "table"), **render_model_sources(b, "nano", "beta", "unrolled")}
    for name, text in sources.items():
        (tmp_path / name).write_text(text)
    main = tmp_path / "main.c"
    main.write_text('#include "alpha.h"\n#include "beta.h"\nint main(void) { float x[3] = {0.1f, -2.0f, 3.0f};\n'
                    "  alpha_score_t sa[ALPHA_NUM_CLASSES]; beta_score_t sb[BETA_NUM_CLASSES];\n"
                    "  return (int)alpha_predict(x, sa) + 10 * (int)beta_predict(x, sb); }\n")
    import subprocess
    exe = tmp_path / "both"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", str(main),
                    str(tmp_path / "alpha.c"), str(tmp_path / "beta.c"), "-o", str(exe)], check=True)
    code = subprocess.run([str(exe)]).returncode
    x = np.array([[0.1, -2.0, 3.0]], np.float32)
    assert code == int(a.predict(x)[0]) + 10 * int(b.predict(x)[0])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(2, 8), depth=st.integers(1, 3), classes=st.integers(2, 10),
       features=st.integers(1, 800), layout=st.sampled_from(["table", "unrolled"]))
def test_property_random_models(seed, n, depth, classes, features, layout):
    rng = np.random.default_rng(seed)
    # LUT counts that are not multiples of 8; the last a multiple of the class count
    luts = [int(rng.integers(1, 60)) * 8 + int(rng.integers(1, 8)) for _ in range(depth - 1)]
    group = int(rng.integers(1, 6))
    luts.append(classes * group)
    bits = int(rng.integers(1, 4)) if features > 100 else int(rng.integers(1, 9))
    model = random_model(seed, num_features=features, bits_per_feature=bits, luts=tuple(luts), n=n, num_classes=classes)
    X = adversarial_inputs(model, seed, random_rows=32)
    with compile_host(model, board="pico", layout=layout, name=f"m{seed}") as host:
        assert_same(host, model, X)


def test_sanitizer_build_reports_an_out_of_bounds_read():
    # the proof can fail: a library that reads past its activation buffer is caught by ASan
    from dwn_mcu.compiler.host import HostBuildError

    model = random_model(3, num_features=4, luts=(24, 8), n=4, num_classes=2)
    sources = render_model_sources(model, "nano", "oob", "table")
    assert "if (in[i]) {" in sources["oob.c"]  # the host compiles the byte-activation loop (not AVR)
    sources["oob.c"] = sources["oob.c"].replace("if (in[i]) {", "if (in[i + 64u]) {")
    with HostModel(sources, "oob", 2, build="sanitize") as host, pytest.raises(HostBuildError, match="runtime error|overflow"):
        host.run(adversarial(model)[:5])
