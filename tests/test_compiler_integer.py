"""Integer-input models through the compiler: the generated C takes the integers a sensor delivers,
compares them with integer thresholds, and agrees with the reference on every input of the type, with no
floating point at all (no float token in the C, no soft-float routine in the AVR and Cortex-M0+ objects)."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import shared_dataset

from dwn_mcu.cli import main
from dwn_mcu.compiler import build_project, compile_host, get_board, make_plan, render_model_sources
from dwn_mcu.compiler.host import compare
from dwn_mcu.compiler.project import load_project, selftest_vectors
from dwn_mcu.frozen import INPUT_TYPES
from dwn_mcu.integer_inputs import dequantize, fit_quantization, to_integer_model
from dwn_mcu.synthetic import adversarial_inputs, random_model

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")

#: type -> (w, key type): the type's range stands for features in [-w, w]. The float model's thresholds
#: are normal(0, 1): w = 1 leaves some below the type's minimum (they become min - 1, which needs the
#: wider key type) and some above its maximum; w = 6 leaves none.
CASES = {"int8": (1.0, "int16_t"), "uint8": (6.0, "uint8_t"), "int16": (6.0, "int16_t"),
         "uint16": (1.0, "int32_t")}
SOFT_FLOAT = re.compile(r"__(?:add|sub|mul|div|neg|cmp|eq|ne|lt|le|gt|ge|unord|fix|fixuns|float|floatun|extend|"
                        r"trunc)[a-z]*[sd]f\d|__aeabi_[fd]|__aeabi_[lu]*[fd]2|__aeabi_[iu]*2[fd]")


def integer_model(input_type, seed=7, **shape):
    """A random float model converted to `input_type`, whose range stands for [-w, w] (see CASES)."""
    shape = {"num_features": 4, "bits_per_feature": [9, 3, 12, 6], "luts": (36, 12), "n": [6, 3],
             "num_classes": 3, **shape}
    model = random_model(seed=seed, **shape)
    lo, hi = INPUT_TYPES[input_type]
    w = CASES[input_type][0]
    scale = 2 * w / (hi - lo)
    return model, to_integer_model(model, input_type, scale, -w - lo * scale)


def sweep(input_type, num_features, seed=0):
    """8-bit types: every value in every feature (columns permuted independently). 16-bit types: 3000
    random values per feature. Both: rows of the type's minimum and maximum."""
    lo, hi = INPUT_TYPES[input_type]
    rng = np.random.default_rng(seed)
    if hi - lo < 256:
        K = np.stack([rng.permutation(np.arange(lo, hi + 1)) for _ in range(num_features)], axis=1)
    else:
        K = rng.integers(lo, hi, size=(3000, num_features), endpoint=True)
    return np.concatenate([K, np.full((1, num_features), lo), np.full((1, num_features), hi)])


@needs_gcc
@pytest.mark.parametrize("layout", ["table", "unrolled"])
@pytest.mark.parametrize("input_type", sorted(CASES))
def test_c_equals_reference_on_adversarial_and_full_domain(input_type, layout):
    _, model = integer_model(input_type)
    plan = make_plan(model, get_board("nano"), "x", layout)
    assert plan.key_ctype == CASES[input_type][1]
    assert (float(model.thresholds.min()) < INPUT_TYPES[input_type][0]) == (plan.key_ctype != plan.input_ctype)
    X = np.concatenate([adversarial_inputs(model), sweep(input_type, model.num_features)])
    for build in ("strict", "sanitize"):
        with compile_host(model, layout=layout, name="x", build=build) as host:
            classes, scores = host.run(X)
        result = compare(model, X, classes, scores, build)
        assert result.ok, f"{result.mismatches} of {result.vectors} differ, first {result.first}"


def test_adversarial_integer_inputs_probe_every_threshold():
    _, model = integer_model("uint8")
    lo, hi = INPUT_TYPES["uint8"]
    X = adversarial_inputs(model)
    assert X.dtype == np.int64 and X.min() == lo and X.max() == hi
    for f, t in enumerate(model.feature_thresholds):
        for v in t.astype(np.int64):
            for w in (v - 1, v, v + 1):
                assert np.any(X[:, f] == min(max(w, lo), hi))
    assert adversarial_inputs(random_model(1)).dtype == np.float32  # float models: unchanged


def test_plan_prices_inputs_and_thresholds_in_their_types():
    float_model, model = integer_model("int8")
    board = get_board("nano")
    # the threshold-table encoder: thresholds in flash in their types (the immediate one keeps only counts)
    fplan, plan = (make_plan(m, board, "x", selftest_count=3, encoder="table") for m in (float_model, model))
    assert (fplan.input_ctype, fplan.key_ctype) == ("float", "uint32_t")
    assert plan.input_ctype == "int8_t" and plan.key_ctype == "int16_t"
    assert plan.flash["thresholds"] == 2 * model.num_input_bits + model.num_features  # uint8 counts
    assert fplan.flash["thresholds"] == 4 * float_model.num_input_bits + float_model.num_features
    assert plan.ram["sketch input buffer"] == 4 and fplan.ram["sketch input buffer"] == 16
    assert plan.flash["selftest vectors"] == 3 * (4 + 4 * 3 + 1)


@needs_gcc
def test_phoneme_like_int16_model_equals_float_model_through_c():
    data = shared_dataset("phoneme")
    X_tr, _ = data.train_split()
    X_te, _ = data.test_split()
    F = X_tr.shape[1]
    # a float model whose thresholds are quantiles of the real features, as a trained one's are
    per_feature = [np.unique(np.quantile(X_tr[:, f], np.linspace(0.02, 0.98, 16)).astype(np.float32))
                   for f in range(F)]
    counts = [t.size for t in per_feature]
    model = random_model(seed=3, num_features=F, bits_per_feature=counts, luts=(60, 20), n=[6, 4], num_classes=2)
    model = type(model)(thresholds=np.concatenate(per_feature), bits_per_feature=counts, layers=model.layers,
                        num_classes=2).validate()
    scale, offset = fit_quantization(X_tr, "int16")
    imodel = to_integer_model(model, "int16", scale, offset)
    K = np.concatenate([imodel.quantize(X_te), sweep("int16", F, seed=1)])
    with compile_host(imodel, layout="table", name="ph", build="strict") as host:
        classes, scores = host.run(K)
    features = dequantize(K, scale, offset)
    assert np.array_equal(scores, model.scores(features)) and np.array_equal(classes, model.predict(features))


@pytest.mark.parametrize("layout", ["table", "unrolled"])
def test_generated_c_has_no_float_token(layout):
    pattern = re.compile(r"\b(?:float|double)\b")
    for input_type in CASES:
        _, model = integer_model(input_type)
        for fname, text in render_model_sources(model, "nano", "x", layout).items():
            assert not pattern.search(text), (input_type, fname, pattern.search(text))
    float_model, _ = integer_model("int8")
    assert pattern.search(render_model_sources(float_model, "nano", "x", layout)["x.h"])  # the check can fail


def _cross(cc, flags, tmp_path, source):
    (tmp_path / "x.c").write_text(source)
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os", *flags, "-c",
                    tmp_path / "x.c", "-o", tmp_path / "x.o"], check=True, capture_output=True)
    return subprocess.run([cc.replace("gcc", "nm"), "-u", tmp_path / "x.o"], check=True, capture_output=True,
                          text=True).stdout


@pytest.mark.parametrize("cc, flags", [("avr-gcc", ["-mmcu=atmega328p"]),
                                       ("arm-none-eabi-gcc", ["-mcpu=cortex-m0plus", "-mthumb"])])
def test_cross_objects_reference_no_soft_float(tmp_path, cc, flags):
    if shutil.which(cc) is None or shutil.which(cc.replace("gcc", "nm")) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{cc} is required in CI")
        pytest.skip(f"{cc} not installed")
    # the detector sees a float comparison, so an empty answer below means something
    assert SOFT_FLOAT.search(_cross(cc, flags, tmp_path, "int f(float a, float b) { return a > b; }\n"))
    for input_type in CASES:  # every key type: int8_t, int16_t (twice), int32_t, uint8_t
        _, model = integer_model(input_type)
        for layout in ("table", "unrolled"):
            src = render_model_sources(model, "nano", "x", layout, check_budget=False)
            (tmp_path / "x.h").write_text(src["x.h"])
            undefined = _cross(cc, flags, tmp_path, src["x.c"])
            assert not SOFT_FLOAT.search(undefined), (input_type, layout, undefined)


@needs_gcc
def test_build_verify_and_selftest_sketch(tmp_path, capsys):
    from dwn_mcu import save

    _, model = integer_model("int16", luts=(20, 6), num_classes=2)
    model_file = tmp_path / "m.dwn"
    save(model, model_file)
    out = tmp_path / "out"
    assert main(["build", str(model_file), "--board", "nano", "-o", str(out), "--selftest", "--selftest-count",
                 "30"]) == 0
    project = load_project(out)
    assert project.vectors.dtype == np.int64 and project.report["input_type"] == "int16"
    assert main(["verify", str(out)]) == 0
    assert "PASS" in capsys.readouterr().out
    lib = out / "lib/dwn_model/src"
    exe = tmp_path / "sketch"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", lib / "dwn_model.c",
                    "-o", tmp_path / "m.o"], check=True)
    subprocess.run(["g++", "-Wall", "-Wextra", "-Werror", f"-I{lib}", out / "src/main.cpp", tmp_path / "m.o", "-o",
                    exe], check=True)
    proc = subprocess.run([exe], input="12,-300,32767,-32768\n1,2,3,40000\n1.5,2,3,4\n", capture_output=True,
                          text=True, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "selftest PASS 30 vectors"
    s = model.scores(np.array([[12, -300, 32767, -32768]]))[0]
    assert re.fullmatch(f"class {int(np.argmax(s))} scores " + " ".join(map(str, s)) + r" us \d+", lines[1])
    assert lines[2] == lines[3] == "error: expected 4 int16 integers"  # out of range; not an integer


def test_build_rejects_inputs_outside_the_type(tmp_path):
    from dwn_mcu.errors import DataError

    _, model = integer_model("uint8")
    with pytest.raises(DataError, match="outside the uint8 range"):
        build_project(model, "nano", tmp_path / "a", verify_vectors=np.full((2, 4), 256))
    with pytest.raises(DataError, match="integer inputs"):
        build_project(model, "nano", tmp_path / "b", selftest_vectors=np.full((2, 4), 0.5))
    assert selftest_vectors(model, np.zeros((5, 4)), 3).dtype == np.int64  # feature values are quantized
