"""The NumPy reference: semantics of docs/design.md checked on hand-made models."""

import numpy as np
import pytest

from dwn_mcu import DWNFormatError, FrozenDWN, LutLayer
from dwn_mcu.synthetic import adversarial_inputs, random_model


def tiny_model():
    # 2 features, thresholds [0] and [-1, 1]: bits (x0>0, x1>-1, x1>1).
    # Layer: 2 LUTs. LUT0 reads (bit0, bit2) as AND; LUT1 reads bit1 alone, as identity.
    return FrozenDWN(
        thresholds=np.array([0.0, -1.0, 1.0], np.float32),
        bits_per_feature=[1, 2],
        layers=(
            LutLayer(
                n_inputs=np.array([2, 1]),
                mapping=np.array([0, 2, 1]),
                tables=np.array([0, 0, 0, 1, 0, 1], np.uint8),
            ),
        ),
        num_classes=2,
    ).validate()


def test_encoder_is_strict_and_nan_is_zero():
    m = tiny_model()
    X = np.array([[0.0, 1.0], [1e-45, 1.0000001], [np.nan, np.nan], [np.inf, -np.inf]], np.float32)
    assert m.encode(X).tolist() == [[0, 1, 0], [1, 1, 1], [0, 0, 0], [1, 0, 0]]


def test_address_slot_zero_is_least_significant_bit():
    # LUT0 is AND of bit0 and bit2, so only address 3 gives 1; swapping a table entry pins the order.
    layer = LutLayer(n_inputs=np.array([2]), mapping=np.array([0, 1]), tables=np.array([0, 1, 0, 0], np.uint8))
    bits = np.array([[1, 0], [0, 1]], np.uint8)  # address 1 (slot 0 set), address 2 (slot 1 set)
    assert layer.forward(bits)[:, 0].tolist() == [1, 0]


def test_scores_popcount_groups_ties_to_lowest():
    m = tiny_model()
    X = np.array([[1.0, 2.0], [-1.0, 0.0], [-1.0, -2.0]], np.float32)
    assert m.scores(X).tolist() == [[1, 1], [0, 1], [0, 0]]
    assert m.predict(X).tolist() == [0, 1, 0]


def test_class_bias_is_added():
    base = tiny_model()
    m = FrozenDWN(base.thresholds, base.bits_per_feature, base.layers, 2, class_bias=[2, 0])
    assert m.scores(np.array([[1.0, 2.0]], np.float32)).tolist() == [[3, 1]]


def test_uniform_layer_matches_flat_layout():
    m = random_model(seed=3, luts=(24, 6), n=[4, 3], num_classes=3)
    l1 = m.layers[0]
    assert l1.num_luts == 24 and l1.mapping.size == 24 * 4 and l1.tables.size == 24 * 16
    X = adversarial_inputs(m)
    bits0 = m.encode(X)
    # Recompute layer 1 by the definition, one LUT at a time.
    for j in (0, 7, 23):
        addr = sum(bits0[:, l1.lut_inputs(j)[k]].astype(int) << k for k in range(4))
        assert np.array_equal(l1.forward(bits0)[:, j], l1.lut_table(j)[addr])


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(thresholds=np.array([0.0, 1.0, -1.0], np.float32)), "strictly increasing"),
        (dict(thresholds=np.array([np.nan, -1.0, 1.0], np.float32)), "NaN"),
        (dict(bits_per_feature=[1, 1]), "sums to"),
        (dict(num_classes=1), "at least 2"),
        (dict(num_classes=3), "not a multiple"),
        (dict(class_bias=[0, 0, 0]), "class_bias"),
    ],
)
def test_validate_rejects(change, message):
    base = tiny_model()
    fields = dict(thresholds=base.thresholds, bits_per_feature=base.bits_per_feature, layers=base.layers,
                  num_classes=2)
    fields.update(change)
    with pytest.raises(DWNFormatError, match=message):
        FrozenDWN(**fields).validate()


def test_validate_rejects_mapping_out_of_range():
    layer = LutLayer(n_inputs=np.array([2, 2]), mapping=np.array([0, 1, 2, 3]), tables=np.zeros(8, np.uint8))
    m = FrozenDWN(np.array([0.0, 1.0, 2.0], np.float32), [3], (layer,), 2)
    with pytest.raises(DWNFormatError, match="out of range"):
        m.validate()
