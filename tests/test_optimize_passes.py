"""Each optimizer pass on its own: exact (same scores on every encoder cell, adversarial and random
inputs) and it removes what was planted for it."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dwn_mcu import FrozenDWN, LutLayer
from dwn_mcu.optimize import (
    drop_unused_thresholds,
    fold_constant_luts,
    ignored_features,
    make_layers_uniform,
    merge_duplicate_luts,
    remove_dead_luts,
    remove_dont_care_inputs,
    renumber,
)
from dwn_mcu.optimize.duplicates import canonical_key
from dwn_mcu.optimize.netlist import reachable, split_layer
from planted import cell_inputs, planted_model
from dwn_mcu.synthetic import adversarial_inputs, random_model

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def planted(draw):
    depth = draw(st.integers(1, 3))
    C = draw(st.integers(2, 3))
    luts = tuple(draw(st.integers(4, 14)) for _ in range(depth - 1)) + (C * draw(st.integers(2, 6)),)
    model, plan = planted_model(
        seed=draw(st.integers(0, 2**32 - 1)), num_features=draw(st.integers(2, 4)),
        bits_per_feature=draw(st.integers(1, 4)), luts=luts, n=draw(st.integers(1, 4)), num_classes=C,
        rate=draw(st.sampled_from([0.05, 0.15, 0.25])),
    )
    return model, plan


def assert_exact(before: FrozenDWN, after: FrozenDWN):
    after.validate()
    assert after.num_features == before.num_features and after.num_classes == before.num_classes
    X = np.concatenate([cell_inputs(before), adversarial_inputs(before, seed=1)])
    np.testing.assert_array_equal(after.scores(X), before.scores(X))
    np.testing.assert_array_equal(after.predict(X), before.predict(X))


@given(planted())
@SETTINGS
def test_unused_thresholds(case):
    model, plan = case
    out = drop_unused_thresholds(model)
    assert_exact(model, out)
    read = np.unique(model.layers[0].mapping)
    assert out.num_input_bits == read.size  # exactly the read thresholds remain
    np.testing.assert_array_equal(out.thresholds, model.thresholds[read])
    assert out.bits_per_feature[plan["ignored_feature"]] == 0
    assert model.feature_names[plan["ignored_feature"]] in ignored_features(out)


@given(planted())
@SETTINGS
def test_dont_care_inputs(case):
    model, plan = case
    out = remove_dont_care_inputs(model)
    assert_exact(model, out)
    for l, j in plan["dont_care"] + plan["repeat"]:  # each planted LUT lost at least one input
        assert out.layers[l].n_inputs[j] < model.layers[l].n_inputs[j]
    for l, j in plan["constant"]:
        assert out.layers[l].n_inputs[j] == 0
    for l, layer in enumerate(out.layers):  # no slot left that the table ignores where it can occur
        for inp, tab in split_layer(layer):
            ok, addr = reachable(out, l, inp), np.arange(tab.size)
            for k in range(len(inp)):
                flip = addr ^ (1 << k)
                assert np.any(ok & ok[flip] & (tab != tab[flip])), (l, inp, tab)
    assert remove_dont_care_inputs(out).layers[0].tables.tobytes() == out.layers[0].tables.tobytes()


@given(planted())
@SETTINGS
def test_constant_luts(case):
    model, plan = case
    out = fold_constant_luts(remove_dont_care_inputs(model))
    assert_exact(model, out)
    for layer in out.layers[:-1]:  # no constant left in earlier layers (unless one kept to stay valid)
        constant = [np.all(tab == tab[0]) for _, tab in split_layer(layer)]
        assert not any(constant) or layer.num_luts == 1
    last, G = split_layer(out.layers[-1]), out.group_size
    zeros = [sum(np.all(t == t[0]) for _, t in last[c * G:(c + 1) * G]) for c in range(out.num_classes)]
    assert min(zeros) == 0 or G == 1  # k per group went, until a group has none (or one LUT is left)
    assert all(len(i) == 0 and t.tolist() == [0] for i, t in last if np.all(t == t[0]))


def test_constant_one_adds_one_to_its_class():
    # Two classes, groups of 2: class 0 = (constant 1, bit 0); class 1 = (constant 0, bit 1).
    layer = LutLayer(np.array([1, 1, 1, 1]), np.array([0, 0, 1, 1]), np.array([1, 1, 0, 1, 0, 0, 0, 1], np.uint8))
    model = FrozenDWN(np.array([0.0, 1.0], np.float32), [2], (layer,), 2).validate()
    out = fold_constant_luts(model)
    assert out.layers[-1].num_luts == 2 and out.class_bias.tolist() == [1, 0]
    assert_exact(model, out)


@given(planted())
@SETTINGS
def test_dead_luts(case):
    model, plan = case
    out = remove_dead_luts(model)
    assert_exact(model, out)
    for l in range(len(out.layers) - 1):
        read = np.unique(out.layers[l + 1].mapping)
        assert read.size == out.layers[l].num_luts or out.layers[l].num_luts == 1
    for l in range(len(model.layers) - 1):
        planted_dead = sum(1 for ll, _ in plan["dead"] if ll == l)
        assert model.layers[l].num_luts - out.layers[l].num_luts >= min(planted_dead, model.layers[l].num_luts - 1)


def test_dead_luts_go_transitively():
    # Layer 1: 3 LUTs; layer 2 reads only LUT 0 of layer 1, and layer 2's LUT 1 is read by nobody.
    model = random_model(seed=3, num_features=3, bits_per_feature=4, luts=(3, 2, 2), n=2)
    layers = list(model.layers)
    layers[1] = LutLayer(layers[1].n_inputs, np.array([0, 0, 1, 2]), layers[1].tables)
    layers[2] = LutLayer(layers[2].n_inputs, np.array([0, 0, 0, 0]), layers[2].tables)
    model = FrozenDWN(model.thresholds, model.bits_per_feature, tuple(layers), 2).validate()
    out = remove_dead_luts(model)
    assert [layer.num_luts for layer in out.layers] == [1, 1, 2]
    assert_exact(model, out)


@given(planted())
@SETTINGS
def test_duplicate_luts(case):
    model, plan = case
    out = merge_duplicate_luts(model)
    assert_exact(model, out)
    for layer in out.layers[:-1]:
        keys = [canonical_key(i, t) for i, t in split_layer(layer)]
        assert len(set(keys)) == len(keys)
    for l in range(len(model.layers) - 1):
        dups = sum(1 for ll, _ in plan["duplicate"] if ll == l)
        assert model.layers[l].num_luts - out.layers[l].num_luts >= dups


@given(planted())
@SETTINGS
def test_renumber(case):
    model, _ = case
    out = renumber(model)
    assert_exact(model, out)
    assert out.size_bits() == model.size_bits()
    for layer in out.layers:
        for inp, _ in split_layer(layer):
            assert np.all(np.diff(inp) >= 0)
    for layer in out.layers[:-1]:
        assert np.all(np.diff(layer.n_inputs) >= 0)
    again = renumber(out)
    assert all(a.mapping.tobytes() == b.mapping.tobytes() and a.tables.tobytes() == b.tables.tobytes()
               for a, b in zip(again.layers, out.layers))


@given(planted())
@SETTINGS
def test_make_layers_uniform(case):
    model, _ = case
    mixed = remove_dont_care_inputs(drop_unused_thresholds(model))
    out = make_layers_uniform(mixed, per_lut_bits=10**6)  # padding always pays: every layer uniform
    assert_exact(model, out)
    for a, b in zip(out.layers, mixed.layers):
        assert np.unique(a.n_inputs).size == 1 and a.n_inputs[0] == b.n_inputs.max() or b.mapping.size == 0
    assert np.array_equal(np.unique(out.layers[0].mapping), np.unique(mixed.layers[0].mapping))  # no bit read anew
    kept = make_layers_uniform(mixed, per_lut_bits=0, per_layer_bits=0)  # mixed is never dearer: unchanged
    assert all(np.array_equal(a.n_inputs, b.n_inputs) for a, b in zip(kept.layers, mixed.layers))
