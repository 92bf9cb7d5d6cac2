import numpy as np
import pytest

from dwn_mcu.errors import DWNFormatError
from dwn_mcu.frozen import LutLayer
from dwn_mcu.reduction import binary_scores, predict, reduction_scores, validate_reduction
from dwn_mcu.synthetic import random_model


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
