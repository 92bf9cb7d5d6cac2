"""One record per architecture: what the planners price (code and stack, per model family), which
emulated target builds and runs its code (compiler, flags, emulator: `targets/toolchains.py`), and the
costs the optimizer weighs. A board file names its architecture (`chip.arch`) and carries only what is
about the board; everything about the architecture is here, in one place.

Code costs of the DWN (`dwn`), fitted to objects compiled at -Os by each family's gcc (avr-gcc 5.4,
arm-none-eabi-gcc 12.2, riscv64-unknown-elf-gcc 12.2 for rv32imc; xtensa: assumed like riscv32) over
random models; bench/flash_per_lut.py prints the estimate next to the measured size. table: `fixed`
(encoder, predict, argmax) + `layer` per layer loop. unrolled: `u_fixed`, plus the code of one LUT with
n inputs, `u_lut[n]` for n = 0..8 (measured per n: gcc's code is not linear in n), extended by `u_input`
per input beyond 8. Off AVR the table layout's layers of 5..8 inputs take the word path (byte
activations, `plan.word_path_eligible`): `layer_word` + `layer_word_input` per input instead of `layer`
(fitted with bench's object sizes over 1..3 layers of n = 3..8, gcc 12.2 -Os, at most 20 bytes off). `key16`: the float32 -> 16-bit key function that float16-grid thresholds need
(measured on avr, cortex-m0plus and cortex-m3 objects; riscv32/xtensa assumed). Unrolled LUTs in
diagram form (`compiler/bdd.py`): `u_diag_lut` + `u_diag_node` per node, least squares over the
all-diagram minus all-table objects of four trained models (bench/diagram_forms.py; xtensa assumed like
riscv32).

Code cost of the XGBoost baseline (`xgboost`: predict + libgcc's float add), measured with avr-gcc 5.4
-Os -flto as the model's share of the simavr testbench ELF minus its tables: 900 to 921 bytes for the
binary models and 1034 to 1061 for the 7-class ones of bench/compare_nano.py --xgboost-only. The
constants sit just above every measurement, so a planned model is never bigger on the chip.
Cortex-M0+, M3, M4F and RV32 (bench/xgb_code_size.py, arm-none-eabi-gcc 12.2 / riscv64-unknown-elf-gcc
12.2 at the targets' flags, binary and 3- and 4-class models, through the test shim: its few bytes and its
frame are counted, the safe side) likewise, with 8 bytes to spare. The int16-input form
(`xgb_code_int16`, `xgb_stack_int16`: no keys, 2-byte thresholds; bench/xgb_code_size.py --input int16,
the same corpus quantized) likewise, 8 bytes above every measurement (AVR: 614 to 648 bytes binary, 784
to 811 for 3 and 4 classes). Architectures without a measurement are refused rather than guessed.

Latency (`latency`: cycles or instructions per unit of work, per family; see `dwn_mcu/latency.py`): fitted
to simavr and QEMU by bench/calibrate_latency.py, which rewrites `dwn_mcu/latency_constants.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .targets.toolchains import TARGETS, Target

#: The optimizer's price of a layer with mixed input counts (`optimize/uniform.py`): the compiler's
#: n_inputs byte per LUT, and its extra code for variable rows (29 bytes measured with avr-gcc -Os, main at
#: aa02b85), in bits.
MIXED_LAYER_LUT_BITS = 8
MIXED_LAYER_CODE_BITS = 256


@dataclass(frozen=True)
class Architecture:
    name: str  # as board files spell it (`chip.arch`)
    dwn_code: MappingProxyType  # the DWN planner's code-cost model (see the module docstring)
    dwn_stack: int  # bytes of stack predict() needs beyond its score array
    target: str | None = None  # the emulated target (toolchains.TARGETS) that runs this code, if any
    xgb_code: MappingProxyType | None = None  # XGBoost: {"fixed", "per_margin"} bytes; None: not measured
    xgb_stack: int | None = None  # XGBoost predict's frame besides its bins and margins
    #: the same for the int16-input form (`baselines.xgb_integer`: no keys, int16 thresholds), measured by
    #: bench/xgb_code_size.py --input int16; None: not measured
    xgb_code_int16: MappingProxyType | None = None
    xgb_stack_int16: int | None = None
    #: inline tree layouts (XGBoost's): bytes the linked firmware adds beyond the library's object (the
    #: soft-float add), and stack beyond its frame; measured by bench/xgb_code_size.py; None: not measured
    inline_lib_code: int | None = None
    inline_stack: int | None = None
    #: the same for the int16-input form (bench/xgb_code_size.py --layout inline --input int16)
    inline_lib_code_int16: int | None = None
    inline_stack_int16: int | None = None
    #: AVR table layout's fast path: predict()'s deepest frame measured in simavr without its score array
    #: (30 bytes: seven layers, 10 classes; 25 to 27 on smaller models) with 2 bytes to spare.
    fast_frame: int | None = None
    #: the unrolled layout's stack where it differs from `dwn_stack`: (bytes, more bytes per layer)
    dwn_stack_unrolled: tuple[int, int] | None = None
    #: the table layout's stack with the immediate encoder, where it is smaller (no key function or search
    #: loop frame): RISC-V 8 bytes deepest on tests/test_targets_verify.py's model, 24 with the table encoder
    dwn_stack_immediate: int | None = None

    @property
    def latency(self) -> MappingProxyType | None:
        """The latency price's cost per feature, by family ({"dwn": {...}, "xgboost": {...}}; see
        `dwn_mcu/latency.py`): fitted to this architecture's emulator by bench/calibrate_latency.py, which
        writes them to `dwn_mcu/latency_constants.py`; None where none were fitted."""
        from .latency_constants import LATENCY

        table = LATENCY.get(self.name)
        return MappingProxyType({k: MappingProxyType(v) for k, v in table.items()}) if table else None

    @property
    def toolchain(self) -> Target | None:
        """The compiler, flags and emulator of this architecture's emulated target (None: not run here)."""
        return TARGETS[self.target] if self.target else None


def _dwn_code(key16: int, fixed: int, layer: int, u_fixed: int, u_input: float, u_lut: tuple,
              imm: dict, **avr_paths) -> MappingProxyType:
    """A DWN code-cost model (see the module docstring), read-only. `imm`: the immediate encoder's code,
    (fixed, per feature, per threshold) by input kind, see `plan.immediate_search_code`."""
    return MappingProxyType({"key16": key16, "fixed": fixed, "layer": layer, "u_fixed": u_fixed,
                             "u_input": u_input, "u_lut": u_lut, "imm": MappingProxyType(imm), **avr_paths})


def _imm(float32: tuple, int8: tuple, int16: tuple) -> dict:
    """The immediate encoder's code over the table encoder's, (fixed, per feature, per threshold) bytes, for
    float inputs, 8-bit keys and wider keys (bench/encoder_code_size.py: the object difference fitted over
    six shapes, plus the threshold table it no longer has; avr-gcc 5.4 / gcc 12.2 -Os)."""
    return {"float32": float32, "int8": int8, "int16": int16}


def _xgb_code(fixed: int, per_margin: int) -> MappingProxyType:
    """XGBoost's code-cost model (see the module docstring), read-only."""
    return MappingProxyType({"fixed": fixed, "per_margin": per_margin})


# Stack: about the deepest measured on the emulators (tests/test_targets_verify.py). It grows with the
# model (layers, classes), the estimate does not, except per layer for AVR's unrolled layout. AVR table:
# 27 (24 to 30 measured on the tests' models); unrolled 12 + 8 per layer (18 on the phoneme 50-LUT
# model's one layer, 28 on the tests' two-layer model, 45 on a three-layer 10-class one). Cortex-M0+
# unrolled: 52 (48 on the tests' models, 68 on the phoneme model, 84 on the 10-class one).
ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture(
        "avr", _dwn_code(
            268, 518, 178, 536, 8.5, (8, 11.0, 28.1, 44.9, 85.5, 69.6, 77.0, 85.4, 94.0),
            _imm((-176, 31.2, 17.4), (-35, 9.8, 8.0), (-68, 11.1, 11.0)),
            # layers whose LUTs all have 4..8 inputs take the inline-assembly path (layout_unrolled.c.j2)
            u_lut_asm={4: 49.8, 5: 57.8, 6: 65.8, 7: 73.8, 8: 81.8},
            # table layers on the fast path (avr_fast_eligible): `layer_fast` + `layer_fast_input` per
            # input, + `layer_fast_input12` per input with 12-bit mapping entries (the unpacking)
            layer_fast=180, layer_fast_input=14, layer_fast_input12=8,
            # layer 1 on the fast path: the encoder writes its bytes (`plan.avr_encoder_bytes`): no bit
            # writes and no spread in layer 1, the stores unrolled by four (gcc 5.4 -Os objects of 12
            # shapes: the estimate 0 to 68 bytes above, at most 8 below)
            encoder_bytes=-100, u_diag_lut=2.3, u_diag_node=8.7,
            # layer 1 reading the ranks (`plan.rank_inputs`): the bit writer's code that goes (gcc 5.4 -Os
            # objects of six trained unrolled models, bench/rank_inputs.py: 216 + 2.9 per table-form LUT)
            rank_writer=230),
        dwn_stack=27, dwn_stack_unrolled=(12, 8), target="avr", xgb_code=MappingProxyType({"fixed": 930, "per_margin": 22}), xgb_stack=24,
        xgb_code_int16=_xgb_code(588, 68), xgb_stack_int16=28, fast_frame=32, inline_lib_code=344, inline_stack=4,
        inline_lib_code_int16=206, inline_stack_int16=8),
    Architecture("cortex-m0plus", _dwn_code(106, 310, 100, 200, 10.5,
                                            (4, 5.6, 18.0, 43.4, 50.1, 62.4, 74.4, 84.9, 95.4),
                                            _imm((-115, 21.8, 13.9), (-57, 8.0, 8.0), (-66, 12.8, 12.2)),
                                            layer_word=48, layer_word_input=8, u_diag_lut=0, u_diag_node=7.9,
                                            rank_writer=100),  # (as AVR's: 114 - 1 per table-form LUT)
                 dwn_stack=76, target="cortex-m0plus", dwn_stack_unrolled=(52, 0),
                 xgb_code=_xgb_code(1150, 25), xgb_stack=112,
                 xgb_code_int16=_xgb_code(1086, 61), xgb_stack_int16=128, inline_lib_code=1650, inline_stack=48,
                 inline_lib_code_int16=1648, inline_stack_int16=56),
    Architecture("cortex-m3", _dwn_code(116, 280, 104, 252, 10.3, (4, 5.4, 17.8, 44.0, 55.6, 62.0, 72.3, 82.8, 93.0),
                                        _imm((-75, 22.7, 14.8), (-20, 7.7, 7.3), (-31, 9.0, 11.5)),
                                        layer_word=48, layer_word_input=11, u_diag_lut=1.6, u_diag_node=6.9),
                 dwn_stack=52, target="cortex-m3", xgb_code=_xgb_code(848, 31), xgb_stack=76,
                 xgb_code_int16=_xgb_code(760, 63), xgb_stack_int16=76, inline_lib_code=564, inline_stack=28,
                 inline_lib_code_int16=564, inline_stack_int16=32),
    Architecture("cortex-m4f", _dwn_code(116, 276, 102, 245, 10.2, (4, 5.4, 17.8, 43.9, 56.0, 61.7, 72.2, 82.6, 92.6),
                                         _imm((-71, 22.7, 14.8), (-20, 7.7, 7.3), (-37, 9.1, 11.5)),
                                         layer_word=50, layer_word_input=10, u_diag_lut=1.8, u_diag_node=6.9),
                 dwn_stack=52, target="cortex-m4f", xgb_code=_xgb_code(315, 32), xgb_stack=80,
                 xgb_code_int16=_xgb_code(232, 63), xgb_stack_int16=80, inline_lib_code=26, inline_stack=28,
                 inline_lib_code_int16=24, inline_stack_int16=32),
    Architecture("riscv32", _dwn_code(140, 318, 126, 608, 18.0, (6, 8.8, 22.3, 53.2, 67.0, 86.0, 92.1, 106.3, 125.0),
                                      _imm((-178, 19.2, 15.7), (-64, 7.2, 9.9), (-100, 8.6, 11.7)),
                                      layer_word=49, layer_word_input=16, u_diag_lut=2.3, u_diag_node=9.0),
                 dwn_stack=40, dwn_stack_immediate=24, target="rv32", xgb_code=_xgb_code(1894, 58), xgb_stack=144,
                 xgb_code_int16=_xgb_code(1808, 70), xgb_stack_int16=128),
    # No Xtensa toolchain or emulator in Debian: projects are generated and parsed, not run.
    Architecture("xtensa", _dwn_code(140, 318, 126, 608, 18.0, (6, 8.8, 22.3, 53.2, 67.0, 68.1, 92.1, 106.3, 125.0),
                                     _imm((-178, 19.2, 15.7), (-64, 7.2, 9.9), (-100, 8.6, 11.7)),  # as riscv32
                                     layer_word=49, layer_word_input=16, u_diag_lut=2.3, u_diag_node=9.0),
                 dwn_stack=64),
)}

ARCHES = tuple(ARCHITECTURES)


def architecture(name: str) -> Architecture:
    """The record of architecture `name` (KeyError for a name no board file may carry)."""
    return ARCHITECTURES[name]
