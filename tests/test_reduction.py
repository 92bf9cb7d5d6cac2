import io
import json
import shutil
import zipfile

import numpy as np
import pytest

from dwn_mcu.errors import DWNFormatError
from dwn_mcu.frozen import FrozenDWN, LutLayer
from dwn_mcu.model_file import from_bytes, load, save, to_bytes
from dwn_mcu.optimize import optimize
from dwn_mcu.reduction import binary_scores, predict, reduction_scores, validate_reduction
from dwn_mcu.synthetic import random_model, random_reduction_model


def popcount_head(C: int, G: int) -> LutLayer:
    """One reduction layer whose K LUTs per class each read the class's G bits and output bit k of their
    popcount: the reduction that reproduces the popcount scores exactly."""
    K = G.bit_length()
    a = np.arange(1 << G)
    pop = np.array([bin(v).count("1") for v in a])
    mapping = np.concatenate([np.tile(c * G + np.arange(G), (K, 1)) for c in range(C)])
    tables = np.concatenate([np.stack([(pop >> k) & 1 for k in range(K)]) for _ in range(C)])
    return LutLayer.uniform(mapping, tables)


@pytest.mark.parametrize("C,G", [(2, 5), (3, 7), (4, 1)])
def test_a_popcount_head_reproduces_popcount_scores(C, G):
    model = random_model(seed=C, luts=(40, C * G), n=4, num_classes=C)
    X = np.random.default_rng(0).normal(size=(500, model.num_features)).astype(np.float32)
    last = model.layer_bits(X)[-1]
    bias = np.arange(C) * 3
    got = reduction_scores(last, [popcount_head(C, G)], C, class_bias=bias)
    np.testing.assert_array_equal(got, model.scores(X) + bias)
    np.testing.assert_array_equal(predict(got), np.argmax(model.scores(X) + bias, axis=1))


def test_two_layer_pyramid_by_hand():
    # C=2 classes, G=4 bits each. Layer 1 (2 LUTs per class): AND of bits (0,1), OR of bits (2,3).
    # Layer 2 (K=2 score bits per class): bit 0 = XOR of the two, bit 1 = AND of the two.
    AND = [0, 0, 0, 1]
    OR = [0, 1, 1, 1]
    XOR = [0, 1, 1, 0]
    l1 = LutLayer.uniform([[0, 1], [2, 3], [4, 5], [6, 7]], [AND, OR, AND, OR])
    l2 = LutLayer.uniform([[0, 1], [0, 1], [2, 3], [2, 3]], [XOR, AND, XOR, AND])
    bits = np.array([
        [1, 1, 0, 0, 0, 0, 1, 0],  # class 0: AND=1, OR=0 -> 1; class 1: AND=0, OR=1 -> 1 (tie -> class 0)
        [1, 1, 1, 0, 0, 1, 0, 0],  # class 0: 1,1 -> 2; class 1: 0,0 -> 0
        [0, 0, 0, 0, 1, 1, 0, 1],  # class 0: 0; class 1: 1,1 -> 2
    ], dtype=np.uint8)
    scores = reduction_scores(bits, [l1, l2], 2)
    np.testing.assert_array_equal(scores, [[1, 1], [2, 0], [0, 2]])
    np.testing.assert_array_equal(predict(scores), [0, 0, 1])
    assert validate_reduction([l1, l2], 2, 4) == 2


def test_binary_scores_are_lsb_first():
    bits = np.array([[1, 0, 1, 0, 0, 1]], dtype=np.uint8)  # class 0: 1 + 4 = 5; class 1: 4
    np.testing.assert_array_equal(binary_scores(bits, 2), [[5, 4]])


def test_a_lut_reading_another_class_is_refused():
    l1 = LutLayer.uniform([[0, 1], [2, 3], [4, 5], [1, 7]], np.zeros((4, 4)))  # LUT 3 (class 1) reads bit 1
    with pytest.raises(DWNFormatError, match=r"LUT 3 \(class 1\) reads bit 1, outside its class's bits 4..7"):
        validate_reduction([l1], 2, 4)
    with pytest.raises(DWNFormatError, match="not a multiple"):
        validate_reduction([LutLayer.uniform([[0], [1], [2]], np.zeros((3, 2)))], 2, 4)


# ------------------------------------------------------------------ the reduction inside FrozenDWN and .dwn


def _with_popcount_head(model, bias=None):
    """`model` (a popcount model) with a reduction that computes the popcount of each group."""
    C, G = model.num_classes, model.group_size
    return FrozenDWN(thresholds=model.thresholds, bits_per_feature=model.bits_per_feature,
                     layers=model.layers + (popcount_head(C, G),), num_classes=C, class_bias=bias,
                     reduction_layers=1).validate()


def _rewrite_header(data: bytes, **changes) -> bytes:
    members = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            members[info.filename] = zf.read(info)
    header = json.loads(np.lib.format.read_array(io.BytesIO(members["header.npy"])).tobytes())
    for key, value in changes.items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.frombuffer(json.dumps(header).encode(), np.uint8))
    members["header.npy"] = buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return out.getvalue()


@pytest.mark.parametrize("C,G", [(2, 5), (3, 7)])
def test_frozen_popcount_head_agrees_with_popcount_scores(C, G):
    model = random_model(seed=C, luts=(40, C * G), n=4, num_classes=C)
    bias = np.arange(C) - 1
    red = _with_popcount_head(model, bias)
    assert (red.group_size, red.score_bits, len(red.dwn_layers), len(red.reduction)) == (G, G.bit_length(), 2, 1)
    X = np.random.default_rng(1).normal(size=(500, model.num_features)).astype(np.float32)
    np.testing.assert_array_equal(red.scores(X), model.scores(X) + bias)
    np.testing.assert_array_equal(red.predict(X), np.argmax(model.scores(X) + bias, axis=1))


def test_frozen_scores_read_the_last_layer_lsb_first():
    model = random_reduction_model(seed=4, head=(4, 3), class_bias=[2, -5, 0])
    X = np.random.default_rng(2).normal(size=(300, model.num_features)).astype(np.float32)
    last_dwn = model.layer_bits(X)[len(model.dwn_layers)]
    np.testing.assert_array_equal(model.scores(X), reduction_scores(last_dwn, model.reduction, 3, model.class_bias))
    assert model.score_range == (-5, 7 + 2)


def test_reduction_round_trips_through_the_file(tmp_path):
    model = random_reduction_model(seed=5, head=(3, 2), num_classes=4, class_bias=[0, 1, 2, 3])
    save(model, tmp_path / "m.dwn")
    back = load(tmp_path / "m.dwn")
    assert back.reduction_layers == 2 and to_bytes(back) == to_bytes(model)
    header = json.loads(np.lib.format.read_array(io.BytesIO(zipfile.ZipFile(tmp_path / "m.dwn").read("header.npy"))).tobytes())
    assert header["version"] == 3 and header["output"] == {"kind": "reduction", "reduction_layers": 2}
    X = np.random.default_rng(3).normal(size=(200, model.num_features)).astype(np.float32)
    np.testing.assert_array_equal(back.scores(X), model.scores(X))


def test_old_versions_load_as_popcount_and_v2_cannot_claim_a_reduction():
    model = random_model(seed=6, luts=(30, 12), num_classes=3)
    data = to_bytes(model)
    for version in (1, 2):
        old = from_bytes(_rewrite_header(data, version=version, output=None))
        assert old.reduction_layers == 0
        np.testing.assert_array_equal(old.scores(np.zeros((1, 5))), model.scores(np.zeros((1, 5))))
    red = to_bytes(random_reduction_model(seed=6))
    with pytest.raises(DWNFormatError, match="'output' needs format version 3"):
        from_bytes(_rewrite_header(red, version=2))
    with pytest.raises(DWNFormatError, match="field 'output' missing"):
        from_bytes(_rewrite_header(red, output=None))
    with pytest.raises(DWNFormatError, match="reduction_layers 4 outside 1..3"):
        from_bytes(_rewrite_header(red, output={"kind": "reduction", "reduction_layers": 4}))
    with pytest.raises(DWNFormatError, match="must be \"popcount\""):
        from_bytes(_rewrite_header(red, output="sum"))


def test_validation_refuses_bad_reductions():
    model = random_reduction_model(seed=7, head=(2,))
    with pytest.raises(DWNFormatError, match="reduction_layers: 3, need 0..2"):
        FrozenDWN(thresholds=model.thresholds, bits_per_feature=model.bits_per_feature, layers=model.layers,
                  num_classes=3, reduction_layers=3).validate()
    with pytest.raises(DWNFormatError, match="17 score bits per class, at most 16"):
        random_reduction_model(seed=7, head=(17,), group_size=2, n=1)


def test_optimize_returns_a_reduction_model_unchanged():
    model = random_reduction_model(seed=8)
    out, report = optimize(model)
    assert out is model and report.rounds == 0 and report.before == report.after



def _with_constant_score_lut(model):
    """`model` whose last layer's LUT K (class 1's bit 0) is an input-less constant 1: a mixed layer."""
    from dwn_mcu.optimize.netlist import join_layer, replace, split_layer

    rows = split_layer(model.layers[-1])
    rows[model.score_bits] = (np.zeros(0, np.int64), np.array([1], np.uint8))
    return replace(model, layers=model.layers[:-1] + (join_layer(rows),))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
def test_build_with_the_optimizer_stays_exact_and_verifies(tmp_path):
    from dwn_mcu.cli import main
    from dwn_mcu.synthetic import adversarial_inputs

    model = _with_constant_score_lut(random_reduction_model(seed=10, head=(4, 3), n=3, class_bias=[0, 2, -1]))
    assert model.layers[-1].n_inputs.min() == 0 < model.layers[-1].n_inputs.max()
    save(model, tmp_path / "r.dwn")
    for layout in ("table", "unrolled"):
        out = tmp_path / layout
        assert main(["build", str(tmp_path / "r.dwn"), "--board", "nano", "--layout", layout, "-o", str(out)]) == 0
        built = load(out / "dwn" / "model.dwn")
        assert built.reduction_layers == 2
        X = adversarial_inputs(model)
        np.testing.assert_array_equal(built.scores(X), model.scores(X))
        assert main(["verify", str(out)]) == 0


def test_info_describes_the_reduction():
    from dwn_mcu.cli.info import describe

    text = describe(random_reduction_model(seed=11, head=(4, 3)))
    assert "learnable reduction: last 2 layer(s), 3 score bits per class" in text
    assert "learnable reduction" not in describe(random_model(seed=11))
