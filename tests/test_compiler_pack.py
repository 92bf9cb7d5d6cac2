"""Pack: the packed arrays hold exactly the frozen model's tables, mappings and thresholds, read back
bit by bit the way the generated C reads them. Also home of `mixed_model`, a random model whose LUTs have
different input counts and whose classes carry a bias (what the optimizer produces)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dwn_mcu.compiler.plan import mapping_format
from dwn_mcu.compiler.pack import (
    encode_with_keys,
    pack12,
    unpack12,
    narrowest_uint,
    pack_bits,
    pack_encoder,
    pack_table_layer,
    pack_unrolled_layer,
    table_layer_lut,
    threshold_keys,
    unpack_bits,
    unrolled_lut,
)
from dwn_mcu.compiler.plan import count_ctype, key_ctype
from dwn_mcu.frozen import FrozenDWN, LutLayer
from dwn_mcu.synthetic import adversarial_inputs


def mixed_model(seed=0, num_features=6, max_bits=5, luts=(21, 10), n_range=(0, 8), num_classes=2, bias=True,
                thresholds=None):
    """A valid random model with per-LUT input counts drawn from `n_range` and a random class bias.
    `thresholds`: optional list of per-feature float32 arrays (e.g. quantiles of real data)."""
    rng = np.random.default_rng(seed)
    if thresholds is None:
        thresholds = []
        for _ in range(num_features):
            t = np.unique(rng.normal(size=int(rng.integers(0, max_bits + 1))).astype(np.float32))
            thresholds.append(t)
    bpf = np.array([t.size for t in thresholds], dtype=np.int64)
    prev = int(bpf.sum())
    layers = []
    for count in luts:
        hi = n_range[1] if prev > 0 else 0
        n = rng.integers(min(n_range[0], hi), hi + 1, size=count)
        mapping = rng.integers(0, max(prev, 1), size=int(n.sum()))
        tables = rng.integers(0, 2, size=int((1 << n).sum())).astype(np.uint8)
        layers.append(LutLayer(n_inputs=n.astype(np.int64), mapping=mapping.astype(np.int64), tables=tables))
        prev = count
    return FrozenDWN(
        thresholds=np.concatenate(thresholds).astype(np.float32) if thresholds else np.zeros(0, np.float32),
        bits_per_feature=bpf,
        layers=tuple(layers),
        num_classes=num_classes,
        class_bias=rng.integers(-3, 4, size=num_classes) if bias else None,
    ).validate()


SPECIAL = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1.17549435e-38,
                    -1.17549435e-38, 3.4028235e38, -3.4028235e38, 1.0, -1.0, 0.5, -2.5], dtype=np.float32)


def test_threshold_keys_order_like_float32_comparisons():
    rng = np.random.default_rng(0)
    vals = np.concatenate([SPECIAL[~np.isnan(SPECIAL)], rng.normal(size=200).astype(np.float32),
                           np.nextafter(SPECIAL[2:], np.float32(0)),
                           rng.integers(0, 2**32, size=200, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    vals = vals[~np.isnan(vals)]
    k = threshold_keys(vals)
    assert np.array_equal(k[:, None] > k[None, :], vals[:, None] > vals[None, :])
    assert np.array_equal(k[:, None] == k[None, :], vals[:, None] == vals[None, :])  # -0.0 == +0.0


def test_encoder_with_keys_matches_reference_on_adversarial_inputs():
    for seed in range(5):
        model = mixed_model(seed, num_features=7)
        X = np.concatenate([adversarial_inputs(model, seed), np.tile(SPECIAL[:, None], (1, 7))])
        assert np.array_equal(encode_with_keys(model, X), model.encode(X))


def test_pack_bits_least_significant_first():
    assert pack_bits([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]).tolist() == [1, 2]
    bits = np.random.default_rng(1).integers(0, 2, 77)
    assert np.array_equal(unpack_bits(pack_bits(bits), 77), bits)


def test_pack12_round_trip_and_layout():
    assert pack12([0xABC, 0x123]).tolist() == [0xBC, 0x3A, 0x12]
    assert pack12([0xABC]).tolist() == [0xBC, 0x0A]  # an odd count ends after the first entry's bytes
    v = np.random.default_rng(0).integers(0, 4096, 101)
    assert np.array_equal(unpack12(pack12(v), 101), v)
    assert mapping_format(256) == "uint8" and mapping_format(257) == "packed12"
    assert mapping_format(4096) == "packed12" and mapping_format(4097) == "uint16"


def test_narrowest_uint():
    assert [narrowest_uint(v).itemsize for v in (0, 255, 256, 65535, 65536)] == [1, 1, 2, 2, 4]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_lo=st.integers(0, 8), span=st.integers(0, 8),
       luts=st.lists(st.integers(1, 70), min_size=1, max_size=3))
def test_packed_layers_hold_every_bit(seed, n_lo, span, luts):
    model = mixed_model(seed, num_features=9, max_bits=60, luts=tuple(luts) + (2,), n_range=(n_lo, min(n_lo + span, 12)))
    enc = pack_encoder(model, key_ctype(model), count_ctype(model))
    assert enc.keys.dtype == np.uint32 and np.array_equal(enc.counts, model.bits_per_feature)
    prev = model.num_input_bits
    for layer in model.layers:
        tab = pack_table_layer(layer, mapping_format(prev))
        unr = pack_unrolled_layer(layer)
        # no padding beyond the last byte of the stream
        assert tab.tables.size == (layer.tables.size + 7) // 8
        assert tab.mapping_format == mapping_format(prev)
        for j in range(layer.num_luts):
            for mapping, bits in (table_layer_lut(tab, j), unrolled_lut(unr, j)):
                assert np.array_equal(mapping, layer.lut_inputs(j))
                assert np.array_equal(bits, layer.lut_table(j))
        prev = layer.num_luts


def test_unrolled_tables_are_byte_aligned_without_padding():
    model = mixed_model(3, luts=(40, 4), n_range=(0, 9))
    layer = model.layers[0]
    unr = pack_unrolled_layer(layer)
    big = layer.n_inputs[layer.n_inputs > 3]
    assert unr.tables.size == int(((1 << big) // 8).sum())
    assert sum(l.immediate is not None for l in unr.luts) == int((layer.n_inputs <= 3).sum())


@pytest.mark.parametrize("seed", range(3))
def test_mixed_model_is_valid_and_varied(seed):
    model = mixed_model(seed, luts=(50, 10), n_range=(0, 8))
    assert len(np.unique(model.layers[0].n_inputs)) > 1


@given(st.lists(st.integers(0, 1), min_size=1, max_size=200))
@settings(max_examples=50, deadline=None)
def test_reversed_words_hold_bit_i_at_31_minus_i(bits):
    # Cortex-M0+'s class loop reads bit i of a table word as bit 31 - i of the reversed copy
    from dwn_mcu.compiler.pack import pack_words, reverse_word_bits

    words = pack_words(bits)
    rev = reverse_word_bits(words)
    for i, b in enumerate(bits):
        assert int(rev[i >> 5]) >> (31 - (i & 31)) & 1 == b
    assert (reverse_word_bits(rev) == words).all()
