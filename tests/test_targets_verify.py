"""Target proofs of the generated model library: on every emulated target and in both layouts, every
vector agrees with the NumPy reference, sizes come from the linked ELF, the planner's estimates hold
within 10%, no table lands in AVR RAM, and a wrong answer is reported with both results."""

import numpy as np
import pytest

from dwn_mcu.compiler import get_board, make_plan, render_model_sources
from dwn_mcu.data import load_dataset
from dwn_mcu.frozen import FrozenDWN, LutLayer
from dwn_mcu.synthetic import adversarial_inputs, random_model
from dwn_mcu.targets.project import PLAN_TOLERANCE, plan_check
from target_tools import require_target
from dwn_mcu.targets.verify import verify_on_target

#: A board of each emulated architecture (its planner estimates are checked against the ELF).
BOARD = {"avr": "nano", "cortex-m0plus": "pico", "cortex-m3": "bluepill", "cortex-m4f": "nucleo_f401re",
         "rv32": "esp32c3"}
LAYOUTS = ("table", "unrolled")


@pytest.fixture(scope="module")
def model():
    # The phoneme dataset's 5 features; LUT counts that are not multiples of 8; three classes.
    return random_model(seed=3, num_features=5, bits_per_feature=6, luts=(45, 21), n=6, num_classes=3)


@pytest.fixture(scope="module")
def vectors(model):
    data = load_dataset("phoneme")  # bundled with the package
    X_test = data.test_split()[0][:60]  # a subset of the test split keeps the suite fast
    return np.concatenate([X_test, adversarial_inputs(model, seed=1, random_rows=8)])  # NaN, inf, +-1 ulp


@pytest.fixture(scope="module")
def results(model, vectors):
    """Each (target, layout) is built and run once; the tests below read the result."""
    cache = {}

    def get(target, layout):
        require_target(target)
        if (target, layout) not in cache:
            sources = render_model_sources(model, BOARD[target], "tm", layout)
            cache[target, layout] = verify_on_target(model, target, vectors, sources, "tm")
        return cache[target, layout]

    return get


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("target", list(BOARD))
def test_generated_model_agrees_on_every_vector(model, vectors, results, target, layout):
    result = results(target, layout)
    assert result.first_mismatch is None
    assert result.agree == result.vectors == vectors.shape[0]
    assert len(result.latency) == vectors.shape[0] and min(result.latency) > 0
    assert result.stack_measured is not None and result.stack_measured > 0
    table_bytes = sum((layer.tables.size + 7) // 8 for layer in model.layers)
    assert result.model_size.flash > table_bytes
    if target == "avr":
        assert result.model_data_symbols == {}, "model tables in AVR .data cost RAM"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("target", list(BOARD))
def test_planner_estimates_hold_within_10_percent(model, results, target, layout):
    result = results(target, layout)
    plan = make_plan(model, get_board(BOARD[target]), "tm", layout)
    check = plan_check(result, {"flash": {"model": plan.model_flash}, "ram": {"model": plan.model_ram}},
                       (2 if plan.score_ctype == "int16_t" else 4) * model.num_classes)
    assert check.flash_off <= PLAN_TOLERANCE, (
        f"planner flash estimate {check.flash_estimate} B, linked ELF {check.flash_measured} B")
    # RAM: on a model this small the stack is most of it, and a few saved registers decide it (the
    # Cortex-M0+ frame is 52 or 76 bytes depending on gcc's register allocation), so the planner takes
    # the deepest frame measured. It may overestimate by that frame's spread, never underestimate.
    assert check.ram_estimate >= check.ram_measured * (1 - PLAN_TOLERANCE), (
        f"planner RAM estimate {check.ram_estimate} B is below the measured {check.ram_measured} B")
    assert check.ram_off <= PLAN_TOLERANCE or check.ram_estimate - check.ram_measured <= 24, (
        f"planner RAM estimate {check.ram_estimate} B, measured {check.ram_measured} B "
        f"(ELF share {result.model_size.ram} + deepest stack {result.stack_measured} + score array)")


def test_a_wrong_answer_is_reported_with_both(model):
    require_target("avr")
    X = adversarial_inputs(model, seed=2, random_rows=8)[-12:]
    other = random_model(seed=4, num_features=5, bits_per_feature=6, luts=(45, 21), n=6, num_classes=3)
    # firmware built from `other`, checked against `model`: the answers must differ somewhere
    result = verify_on_target(model, "avr", X, render_model_sources(other, "nano", "tm", "table"), "tm",
                              measure_model_share=False)
    assert not result.ok
    i = result.first_mismatch["index"]
    assert result.first_mismatch["expected"]["scores"] == model.scores(X[i : i + 1])[0].tolist()
    assert result.first_mismatch["got"]["scores"] == other.scores(X[i : i + 1])[0].tolist()


def test_tables_left_in_avr_ram_are_found(model):
    require_target("avr")
    from dwn_mcu.compiler import lower
    from dwn_mcu.compiler.render import render_library

    # The threshold-table encoder, so that its tables are among those left in RAM (with the immediate
    # encoder the stripped build overruns the Nano's RAM and crashes in simavr before it can disagree).
    sources = render_library(lower(model, get_board("nano"), name="tm", layout="table", optimize=False,
                                   encoder="table"))
    # the same library with PROGMEM taken away: its constant tables now land in .data (RAM)
    stripped = {k: v.replace("PROGMEM", "") for k, v in sources.items()}
    X = np.zeros((2, model.num_features), np.float32)
    good = verify_on_target(model, "avr", X, sources, "tm")
    bad = verify_on_target(model, "avr", X, stripped, "tm")
    assert good.model_data_symbols == {} and good.ok
    assert any("_tab" in s or "_rec" in s for s in bad.model_data_symbols)  # (_rec: the fast path's records)
    assert not bad.ok  # the code still reads those addresses from flash
    assert bad.model_size.ram >= sum(bad.model_data_symbols.values()) > good.model_size.ram


@pytest.mark.parametrize("target", ["avr", "cortex-m0plus"])
def test_mixed_lut_sizes_agree_in_both_layouts(target):
    require_target(target)
    # LUTs of 0..10 inputs in the same layer (immediates and flash tables of every size), class biases
    rng = np.random.default_rng(1)
    base = random_model(seed=1, num_features=3, bits_per_feature=12, luts=(21,), n=2, num_classes=3)
    layers, prev = [], base.num_input_bits
    for count in (20, 9):
        n = rng.integers(0, 11, size=count)
        layers.append(LutLayer(n_inputs=n, mapping=rng.integers(0, prev, size=int(n.sum())),
                               tables=rng.integers(0, 2, size=int((1 << n).sum())).astype(np.uint8)))
        prev = count
    model = FrozenDWN(base.thresholds, base.bits_per_feature, tuple(layers), 3,
                      class_bias=np.array([2, -1, 0])).validate()
    X = adversarial_inputs(model, seed=5, random_rows=16)
    for layout in LAYOUTS:
        sources = render_model_sources(model, BOARD[target], "mx", layout)
        result = verify_on_target(model, target, X, sources, "mx", measure_model_share=False)
        assert result.first_mismatch is None and result.agree == X.shape[0], layout


@pytest.mark.parametrize("n", [4, 5, 7, 8])
def test_avr_unrolled_assembly_for_every_table_size(n):
    # uniform layers of 4..8 inputs take the inline-assembly path on AVR (aligned tables of 2..32 bytes)
    require_target("avr")
    model = random_model(seed=n, num_features=4, bits_per_feature=8, luts=(24, 12), n=n, num_classes=2)
    X = adversarial_inputs(model, seed=n, random_rows=16)
    sources = render_model_sources(model, "nano", "tm", "unrolled")
    assert "__asm__" in sources["tm.c"]
    result = verify_on_target(model, "avr", X, sources, "tm", measure_model_share=False)
    assert result.first_mismatch is None and result.agree == X.shape[0]


@pytest.mark.parametrize("n,features", [(6, 2), (8, 9)])
def test_avr_rank_assembly_agrees(n, features):
    # layer 1 reading the ranks (plan.rank_inputs) on AVR's assembly path: 2 features (every rank kept in a
    # register, most inputs without an lds) and 9 (more features a LUT than registers: reloads)
    require_target("avr")
    model = random_model(seed=40 + n, num_features=features, bits_per_feature=12, luts=(24, 12), n=n, num_classes=2)
    X = adversarial_inputs(model, seed=n, random_rows=24)
    sources = render_model_sources(model, "nano", "tm", "unrolled")
    assert "cpi %[r" in sources["tm.c"] and "tm_encode" not in sources["tm.c"]
    result = verify_on_target(model, "avr", X, sources, "tm", measure_model_share=False)
    assert result.first_mismatch is None and result.agree == X.shape[0]
