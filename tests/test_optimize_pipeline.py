"""The whole optimizer: exact, a fixed point, an honest report, a loadable file, the CLI, and random
models fitted to the shared datasets agreeing on every test-split row."""

import numpy as np
import pytest
from conftest import TABULAR, shared_dataset
from hypothesis import given, settings
from hypothesis import strategies as st

from dwn_mcu import FrozenDWN, LutLayer
from dwn_mcu.cli import main
from dwn_mcu.model_file import from_bytes, load, save, to_bytes
from dwn_mcu.optimize import PASSES, census, optimize
from planted import cell_inputs, planted_model, quantile_model
from dwn_mcu.synthetic import adversarial_inputs, random_model


def same_arrays(a: FrozenDWN, b: FrozenDWN) -> bool:
    parts = lambda m: [m.thresholds, m.bits_per_feature, m.class_bias] + [
        x for layer in m.layers for x in (layer.n_inputs, layer.mapping, layer.tables)]
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(parts(a), parts(b)))


@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.integers(1, 5), st.sampled_from([0.05, 0.2]))
@settings(max_examples=40, deadline=None)
def test_optimize_is_exact_and_a_fixed_point(seed, depth, n, rate):
    luts = (12, 9)[: depth - 1] + (6,)
    model, _ = planted_model(seed, num_features=3, bits_per_feature=4, luts=luts, n=n, num_classes=3, rate=rate)
    X = np.concatenate([cell_inputs(model), adversarial_inputs(model, seed=2)])
    mixed, _ = optimize(model, uniform=False)
    np.testing.assert_array_equal(mixed.scores(X), model.scores(X))
    again, second = optimize(mixed, uniform=False)
    assert same_arrays(again, mixed) and second.rounds == 1
    out, report = optimize(model)
    np.testing.assert_array_equal(out.scores(X), model.scores(X))
    assert same_arrays(optimize(out)[0], out)
    assert report.after == census(out) and report.before == census(model)
    for key in report.before:  # every removal is attributed to exactly one pass
        assert report.before[key] - report.after[key] == sum(r[key] for r in report.removed.values())
    assert out.size_bits()["total_bits"] <= model.size_bits()["total_bits"]


def test_report_names_passes_and_ignored_features():
    model, plan = planted_model(5, num_features=4, bits_per_feature=4, luts=(10, 6), n=3, rate=0.2)
    out, report = optimize(model)
    text = report.summary()
    for name, _ in PASSES + (("uniform_layers", None),):
        assert name in text
    assert model.feature_names[plan["ignored_feature"]] in report.ignored_features
    assert report.removed["unused_thresholds"]["thresholds"] >= len(plan["unread_bits"])
    assert report.to_dict()["after"]["total_bits"] == out.size_bits()["total_bits"]


def test_fully_constant_model_stays_valid():
    # Every LUT of both layers is constant: the model is a constant, and still a valid, exact model.
    base = random_model(seed=1, num_features=2, bits_per_feature=3, luts=(4, 4), n=2)
    layers = [LutLayer(l.n_inputs, l.mapping, np.full_like(l.tables, 1)) for l in base.layers]
    model = FrozenDWN(base.thresholds, base.bits_per_feature, tuple(layers), 2).validate()
    out, _ = optimize(model)
    assert [layer.num_luts for layer in out.layers] == [1, 2]
    assert out.class_bias.tolist() == [2, 2]
    X = adversarial_inputs(model)
    np.testing.assert_array_equal(out.scores(X), model.scores(X))


def test_optimized_model_round_trips_through_the_file_format():
    model, _ = planted_model(7, luts=(12, 8), n=3, rate=0.25)
    out, _ = optimize(model)
    assert np.any(np.concatenate([layer.n_inputs for layer in out.layers]) < 3)  # mixed input counts
    back = from_bytes(to_bytes(out))
    X = adversarial_inputs(model)
    np.testing.assert_array_equal(back.scores(X), model.scores(X))


def test_cli_optimize(tmp_path, capsys):
    model, _ = planted_model(3, luts=(12, 8), n=3, rate=0.2)
    src, dst = tmp_path / "m.dwn", tmp_path / "small.dwn"
    save(model, src)
    assert main(["optimize", str(src), "-o", str(dst)]) == 0
    printed = capsys.readouterr().out
    assert "unused_thresholds" in printed and "model bits" in printed
    small = load(dst)
    X = adversarial_inputs(model)
    np.testing.assert_array_equal(small.scores(X), model.scores(X))
    assert small.size_bits()["total_bits"] < model.size_bits()["total_bits"]
    assert main(["optimize", str(src), "-o", str(dst)]) == 2  # exists, no --force
    assert "--force" in capsys.readouterr().err
    assert main(["optimize", str(src), "-o", str(dst), "--force", "--keep-mixed"]) == 0
    assert "uniform_layers" not in capsys.readouterr().out
    (tmp_path / "bad.dwn").write_bytes(b"not a model")
    assert main(["optimize", str(tmp_path / "bad.dwn"), "-o", str(tmp_path / "x.dwn")]) == 2
    assert not (tmp_path / "x.dwn").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dwn", "m.dwn", "small.dwn"]  # no temp left


@pytest.mark.parametrize("name", TABULAR)
def test_quantile_models_on_shared_datasets(name):
    data = shared_dataset(name)
    X_train, _ = data.train_split()
    X_test, _ = data.test_split()
    for luts in [(100,), (60, 30)]:
        C = data.num_classes
        luts = luts[:-1] + (luts[-1] // C * C,)
        model = quantile_model(X_train, seed=0, bits_per_feature=16, luts=luts, n=6, num_classes=C)
        out, report = optimize(model)
        X = np.concatenate([X_test, adversarial_inputs(model, seed=0)])
        np.testing.assert_array_equal(out.scores(X), model.scores(X))
        assert report.after["total_bits"] <= report.before["total_bits"]


@pytest.mark.parametrize("input_type", ["int8", "uint16"])
def test_integer_input_models_optimize_exactly(input_type):
    import itertools

    from dwn_mcu.integer_inputs import to_integer_model, type_range

    model, _ = planted_model(11, num_features=3, bits_per_feature=5, luts=(12, 8), n=3, rate=0.2)
    imodel = to_integer_model(model, input_type, scale=0.25, offset=-2.0 if input_type == "uint16" else 0.0)
    small, report = optimize(imodel)
    assert small.input_type == input_type
    np.testing.assert_array_equal(small.input_scale, imodel.input_scale)
    lo, hi = type_range(input_type)
    per_feature = [np.unique(np.clip(np.concatenate([t, t + 1, [lo, hi]]), lo, hi)) for t in imodel.feature_thresholds]
    X = np.array(list(itertools.product(*per_feature)), dtype=np.float32)  # every integer cell
    np.testing.assert_array_equal(small.scores(X), imodel.scores(X))
    assert report.after["total_bits"] < report.before["total_bits"]
    assert from_bytes(to_bytes(small)).input_type == input_type
