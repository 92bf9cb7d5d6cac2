"""The table layout off AVR: byte activations and the word path (plan.word_path_eligible), bit for bit on
the 32-bit targets, for every n it covers (5..8), hidden and last layers, popcount and reduction scores;
the Cortex-M0+ assembly and the C that M3 and RV32 compile."""

import numpy as np
import pytest

from dwn_mcu.compiler import get_board, make_plan, render_model_sources
from dwn_mcu.compiler.pack import pack_bits, pack_words
from dwn_mcu.synthetic import adversarial_inputs, random_model, random_reduction_model
from dwn_mcu.targets.verify import verify_on_target
from target_tools import require_target


def test_pack_words_reads_the_same_bits_as_the_bytes():
    bits = np.random.default_rng(0).integers(0, 2, size=100).astype(np.uint8)
    words = pack_words(bits)
    assert words.dtype == np.uint32 and words.size == 4
    got = [(int(words[i >> 5]) >> (i & 31)) & 1 for i in range(100)]
    assert got == bits.tolist()
    b = pack_bits(bits)
    assert [(int(b[i >> 3]) >> (i & 7)) & 1 for i in range(100)] == got


def test_plan_word_path_and_byte_buffers():
    model = random_model(seed=1, num_features=5, bits_per_feature=6, luts=(45, 21), n=[6, 4], num_classes=3)
    plan = make_plan(model, get_board("pico"), "w", "table", check_budget=False)
    assert [lp.word_path for lp in plan.layers] == [True, False]  # n = 4 takes the byte loop
    assert plan.byte_buffers == (32, 48)  # 30 input bits and 45 LUT outputs, one byte each, whole words
    assert plan.ram["activation buffers"] == 80
    avr = make_plan(model, get_board("nano"), "w", "table", check_budget=False)
    assert avr.ram["activation buffers"] == sum(avr.buffers)  # AVR keeps its bit buffers


MODELS = {
    "n5": lambda: random_model(seed=11, num_features=4, bits_per_feature=7, luts=(40, 15), n=5, num_classes=3),
    "n7": lambda: random_model(seed=12, num_features=4, bits_per_feature=7, luts=(24, 10), n=7, num_classes=2),
    "n8": lambda: random_model(seed=13, num_features=3, bits_per_feature=9, luts=(20, 12), n=8, num_classes=4),
    "reduction": lambda: random_reduction_model(seed=14, head=(4, 3), n=6, num_classes=3, group_size=6,
                                                class_bias=[1, 0, -2]),
}


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m3", "rv32"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_word_path_is_bit_exact(kind, target):
    require_target(target)
    model = MODELS[kind]()
    sources = render_model_sources(model, "pico", "wp", "table")
    assert "_tabw[" in sources["wp.c"] and "WP_WORD_M0_ASM" in sources["wp.c"]
    X = adversarial_inputs(model, seed=3, random_rows=12)
    r = verify_on_target(model, target, X, sources, "wp", measure_model_share=False)
    assert r.ok, r.first_mismatch
