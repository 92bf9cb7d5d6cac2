"""The table-driven layout's AVR fast path (layout_table.c.j2: input bits spread into one byte each, a few
lines of inline assembly per LUT): which layers take it, that the planner counts its RAM and falls back to
the plain loop when the byte array does not fit, that other targets' C does not change, and that it agrees
with the NumPy reference bit for bit in simavr."""

import dataclasses

import pytest

from dwn_mcu.compiler import get_board, make_plan, render_model_sources
from dwn_mcu.compiler.pack import pack_records, unpack_bits
from dwn_mcu.compiler.plan import AVR_ALIGN_SLACK, avr_record_pad
from dwn_mcu.compiler.host import HostModel, host_compiler
from dwn_mcu.synthetic import adversarial_inputs, random_model, random_reduction_model
from dwn_mcu.targets.project import PLAN_TOLERANCE, plan_check
from target_tools import require_target
from dwn_mcu.targets.verify import verify_on_target

# Layer 1 reads 320 bits with n = 5 (12-bit mapping entries and an odd n: the plain loop); layer 2 reads
# 301 bits with n = 6 (12-bit entries, even n: the fast path); layers 3..5 read 203, 101 and 45 bits (byte
# entries: the fast path) with n = 4, 8 and 6; widths that are not multiples of 8; 3 classes.
MIXED = dict(seed=11, num_features=8, bits_per_feature=40, luts=(301, 203, 101, 45, 21), n=[5, 6, 4, 8, 6],
             num_classes=3)
# Every layer fast, n = 5 then 7, a one-LUT-per-class last layer of odd width.
SMALL = dict(seed=12, num_features=5, bits_per_feature=[9, 3, 11, 7, 1], luts=(37, 5), n=[5, 7], num_classes=5)


def _plan(model, board="nano"):
    return make_plan(model, get_board(board) if isinstance(board, str) else board, "tm", "table", check_budget=False)


def test_planner_picks_layers_and_counts_the_byte_array():
    model = random_model(**MIXED)
    plan = _plan(model)
    assert [lp.avr_fast for lp in plan.layers] == [False, True, True, True, True]
    assert [lp.map_format for lp in plan.layers] == ["packed12", "packed12", "uint8", "uint8", "uint8"]
    assert plan.avr_bytes == 8 * ((301 + 7) // 8)  # the widest fast layer's input, whole bytes
    # The byte-entry layers read the array through a fixed high byte: it is 256-aligned inside a space
    # 255 bytes larger, all of it counted; records padded for n = 4 and 6, back to back for n = 8.
    assert plan.avr_align == 256 and plan.ram["layer input bytes"] == plan.avr_bytes + AVR_ALIGN_SLACK
    assert [lp.avr_aligned for lp in plan.layers] == [False, False, True, True, True]
    assert [lp.avr_pad for lp in plan.layers] == [-1, -1, 0, -1, 2]
    assert [lp.avr_unroll for lp in plan.layers] == [1, 1, 2, 1, 2]
    assert plan.flash["record padding"] == 0 * 203 + 1 + 2 * 21 + 7  # per-LUT pads + the array's alignment
    # Layers whose LUTs differ in n, or have fewer than 4 inputs, keep the plain loop.
    for kw in (dict(n=3), dict(n=9)):
        other = _plan(random_model(seed=1, num_features=5, bits_per_feature=8, luts=(24, 10), num_classes=2, **kw))
        assert not any(lp.avr_fast for lp in other.layers) and other.avr_bytes == 0
        assert "layer input bytes" not in other.ram
    # Other architectures and the unrolled layout never take it.
    for board in ("pico", "nucleo_f401re", "esp32c3"):
        p = _plan(model, board)
        assert p.avr_bytes == 0 and not any(lp.avr_fast for lp in p.layers)
    unrolled = make_plan(model, get_board("nano"), "tm", "unrolled", check_budget=False)
    assert unrolled.avr_bytes == 0 and "layer input bytes" not in unrolled.ram


def test_planner_falls_back_when_the_byte_array_does_not_fit():
    model = random_model(**MIXED)
    nano = get_board("nano")
    fast = _plan(model)
    # RAM for all but the widest fast layer's bytes: that layer (301 input bits) takes the plain loop, the
    # others keep the fast path with a byte array for 203 bits, and the plan stays within the budget.
    # One byte short of the aligned array: the same layers take the fast path, reading it with a 16-bit add.
    tight = dataclasses.replace(nano, ram=fast.ram_total - 1)
    unaligned = make_plan(model, tight, "tm", "table")
    assert [lp.avr_fast for lp in unaligned.layers] == [lp.avr_fast for lp in fast.layers]
    assert not any(lp.avr_aligned for lp in unaligned.layers) and unaligned.avr_align == 0
    assert unaligned.ram["layer input bytes"] == unaligned.avr_bytes == 304 and unaligned.ram_total <= tight.ram
    assert "record padding" not in unaligned.flash
    tight = dataclasses.replace(nano, ram=unaligned.ram_total - 1)
    plan = make_plan(model, tight, "tm", "table")
    assert [lp.avr_fast for lp in plan.layers] == [False, False, True, True, True]
    assert plan.avr_bytes == plan.ram["layer input bytes"] == 208 and plan.ram_total <= tight.ram
    # RAM for the plain loop and less than the smallest byte array (48 B for layer 5's 45 bits): the plain
    # loop everywhere, and the plan still fits.
    plain = _plan(model, dataclasses.replace(nano, ram=1))
    assert plain.avr_bytes == 0 and plain.ram_total < unaligned.ram_total - unaligned.avr_bytes
    none = dataclasses.replace(nano, ram=plain.ram_total + 40)
    plan = make_plan(model, none, "tm", "table")
    assert plan.avr_bytes == 0 and not any(lp.avr_fast for lp in plan.layers)
    assert "layer input bytes" not in plan.ram and plan.ram_total <= none.ram
    src = render_model_sources(model, none, "tm", "table")["tm.c"]
    assert "tm_in_bytes" not in src and "TM_TABLE_AVR_ASM" not in src  # (the M0+ word path's asm may be there)
    # With exactly enough RAM it takes the fast path everywhere it can.
    exact = make_plan(model, dataclasses.replace(nano, ram=fast.ram_total), "tm", "table")
    assert exact.avr_bytes == fast.avr_bytes and exact.ram_total == fast.ram_total


def test_other_targets_c_has_no_avr_path():
    model = random_model(**MIXED)
    for board in ("pico", "esp32c3"):
        src = render_model_sources(model, board, "tm", "table")["tm.c"]
        assert "in_bytes" not in src and "TABLE_AVR_ASM" not in src
        # only the Cortex-M0+ word path's assembly, in its ARMv6-M branch: layers 4 and 5 (n = 8, 6, byte
        # entries; layers 1 and 2 have 12-bit entries, layer 3 n = 4)
        assert src.count("__asm__(") == 2 and "defined(__ARM_ARCH_6M__)" in src
    avr = render_model_sources(model, "nano", "tm", "table")["tm.c"]
    assert avr.count("__asm__ volatile") == 4  # one block per fast layer, each inside the AVR-only branch


def test_avr_planned_c_compiles_strict_and_agrees_on_the_host():
    # The nano's sources on the host: the `#else` branch (the plain loop) must stay strict C99 and exact.
    if host_compiler() is None:
        pytest.skip("no host C compiler (gcc or cc)")
    model = random_model(**SMALL)
    X = adversarial_inputs(model, seed=3, random_rows=32)
    with HostModel(render_model_sources(model, "nano", "tm", "table"), "tm", model.num_classes) as c:
        classes, scores = c.run(X)
    assert (scores == model.scores(X)).all() and (classes == model.predict(X)).all()


def test_records_hold_each_luts_mapping_then_its_table():
    model = random_model(**MIXED)
    layer = model.layers[4]  # 21 LUTs of n = 6
    rec = pack_records(layer, avr_record_pad(6)).reshape(21, 16)
    assert (rec[:, :2] == 0).all()
    assert (rec[:, 2:8] == layer.mapping.reshape(21, 6)).all()
    for j in range(21):  # table byte k, bit b is address 8 k + b, least significant bit first
        assert (unpack_bits(rec[j, 8:], 64) == layer.tables.reshape(21, 64)[j]).all()
    assert [avr_record_pad(n) for n in range(4, 9)] == [0, 3, 2, -1, -1]


@pytest.mark.parametrize("case", ["mixed", "small", "reduction", "unaligned"])
def test_fast_path_agrees_in_simavr(case):
    require_target("avr")
    board = get_board("nano")
    if case in ("mixed", "unaligned"):
        model = random_model(**MIXED)
        if case == "unaligned":  # the 16-bit-add path: RAM for all but the alignment's slack
            board = dataclasses.replace(board, ram=_plan(model).ram_total - 1)
    elif case == "small":
        model = random_model(**SMALL)
    else:  # the last layers are a learnable reduction's per-class heads (n = 5)
        model = random_reduction_model(seed=13, head=(5, 3), n=5, num_classes=3, group_size=7, class_bias=[3, -2, 0],
                                       num_features=5, bits_per_feature=12, luts=(50,))
    plan = _plan(model, board)
    assert any(lp.avr_fast for lp in plan.layers) and plan.layers[-1].avr_fast
    assert plan.layers[-1].avr_aligned == (case != "unaligned")
    X = adversarial_inputs(model, seed=5, random_rows=24)
    result = verify_on_target(model, "avr", X, render_model_sources(model, board, "tm", "table"), "tm")
    assert result.first_mismatch is None and result.agree == result.vectors == X.shape[0]
    assert result.model_data_symbols == {}, "model tables in AVR .data cost RAM"
    assert result.model_size.ram >= plan.avr_bytes  # the byte array is linked: the fast path was compiled
    check = plan_check(result, {"flash": {"model": plan.model_flash}, "ram": {"model": plan.model_ram}},
                       (2 if plan.score_ctype == "int16_t" else 4) * model.num_classes)
    assert check.flash_off <= PLAN_TOLERANCE, (check.flash_estimate, check.flash_measured)
    assert check.ram_estimate >= check.ram_measured, (check.ram_estimate, check.ram_measured)
    assert check.ram_estimate - check.ram_measured <= 24, (check.ram_estimate, check.ram_measured)
