"""Plan: decide, for one model on one board, the layout, the C types, the RAM buffers, and whether it
fits. Pure: a FrozenDWN and a Board in, a Plan out; nothing is written. Over budget raises BudgetError
with the budget and what takes the space.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..architectures import architecture
from ..errors import DWNError
from ..frozen import INPUT_TYPES, FrozenDWN
from ..threshold_grid import fits_float16_grid
from .boards import Board
from .budget import SKETCH_FLASH_PARTS, Budget, Sizes
from .budget import check_fits as check_budget_fits
from .cgen import c_identifier
from .bdd import Diagram, diagram
from .pack import UNROLLED_IMMEDIATE_MAX_N, mapping_bytes, narrowest_uint

LAYOUTS = ("table", "unrolled")

#: The unrolled layout is chosen when it fits in this share of the flash budget (estimates are not exact).
UNROLLED_FLASH_SHARE = 0.9



class PlanError(DWNError):
    """The model cannot be compiled as asked: a bad name or layout, or a shape the C API cannot carry."""


_CTYPE = {np.dtype(np.uint8): "uint8_t", np.dtype(np.uint16): "uint16_t", np.dtype(np.uint32): "uint32_t"}


def ctype(dtype) -> str:
    return _CTYPE[np.dtype(dtype)]


#: C type of each input type, and the signed type one step wider for thresholds below the type's minimum.
INPUT_CTYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t"}
_WIDER = {"int8": "int16_t", "uint8": "int16_t", "int16": "int32_t", "uint16": "int32_t"}
#: Bytes of each C type the planner prices.
CTYPE_BYTES = {"float": 4, "uint32_t": 4, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4}


def key_ctype(model: FrozenDWN, arch: str | None = None) -> str:
    """C type the encoder compares in. Float models: uint32_t order keys of the float32 bit patterns, or
    uint16_t keys when every threshold is a float16 value (`dwn_mcu.threshold_grid`).
    Integer models: the input's own type, unless a threshold is `min - 1` (every input above it, a bit
    that is always 1), which needs the next wider signed type."""
    limits = INPUT_TYPES[model.input_type]
    if limits is None:
        # Thresholds on the float16 grid (DWNClassifier(threshold_grid="float16")) fit 16-bit keys exactly;
        # on `arch` they are used only when the 2 bytes saved per threshold pay for the key function.
        key16 = model.num_input_bits and fits_float16_grid(model.thresholds)
        if key16 and arch is not None:
            key16 = 2 * model.num_input_bits > architecture(arch).dwn_code["key16"]
        return "uint16_t" if key16 else "uint32_t"
    if model.thresholds.size and float(model.thresholds.min()) < limits[0]:
        return _WIDER[model.input_type]
    return INPUT_CTYPES[model.input_type]


def count_ctype(model: FrozenDWN) -> str:
    """C type of the per-feature threshold counts: the narrowest unsigned type holding the largest."""
    counts = model.bits_per_feature
    return ctype(narrowest_uint(int(counts.max()) if counts.size else 0))


@dataclass(frozen=True)
class LayerPlan:
    index: int  # 1-based
    num_luts: int
    prev_bits: int
    n_max: int
    uniform_n: int | None
    map_format: str  # how the table layout stores the mapping: uint8 | packed12 | uint16 | uint32
    map_ctype: str  # C type of one mapping index
    addr_ctype: str  # LUT address
    toff_ctype: str  # running table bit offset (table layout)
    lut_ctype: str  # LUT loop counter
    table_bits: int
    mapping_entries: int
    n_min: int = 0  # fewest inputs of a LUT of the layer
    map_size: int = 0  # entries of the table layout's mapping array (bytes when packed12)
    table_byte_ctype: str = "uint8_t"  # unrolled layout: the table byte that input slots 3.. select
    # unrolled layout: every LUT has the same 4..8 inputs, so AVR takes the inline-assembly path
    unrolled_asm: bool = False
    # table layout on AVR: the input bits spread into one byte each and an assembly loop per LUT
    # (`avr_fast_eligible`); the planner turns it off when the byte array would not fit the RAM budget
    avr_fast: bool = False
    # AVR fast path with one-byte mapping entries and the byte array 256-byte aligned (`Plan.avr_align`):
    # a mapping entry is X's low byte as it is, and the mapping and table bytes are one record per LUT
    avr_aligned: bool = False
    # bytes in front of each record that put its table on a 2^(n-3)-byte boundary (`avr_record_pad`),
    # -1: records back to back (the table address then takes a 16-bit add)
    avr_pad: int = -1
    # LUTs per pass of the last layer's per-class assembly loop on that path: 2 while two LUT bodies stay
    # within `brne`'s reach (64 words back: n <= 6), else 1
    avr_unroll: int = 1
    # table layout on 32-bit machines: one byte per input, 32-bit table words (`word_path_eligible`)
    word_path: bool = False
    # unrolled layout: per LUT, True where it is compiled as its decision diagram (`lut_forms`); empty:
    # every LUT in table form
    diagram_luts: tuple[bool, ...] = ()
    form_reason: str = ""  # the rule and its outcome, printed in the layer's comment

    @property
    def table_luts(self) -> int:
        """LUTs of the layer in table form (unrolled layout)."""
        return self.num_luts - sum(self.diagram_luts)


@dataclass(frozen=True)
class Plan(Sizes):
    name: str
    prefix: str  # upper-case macro prefix
    board: Board
    layout: str
    layout_reason: str
    score_ctype: str
    count_ctype: str  # thresholds per feature
    input_type: str  # a key of frozen.INPUT_TYPES: features as the C API takes them
    input_ctype: str  # C type of one feature: float, int8_t, uint8_t, int16_t or uint16_t
    key_ctype: str  # C type of the encoder's thresholds and comparisons (see `key_ctype`)
    layers: tuple[LayerPlan, ...]
    buffers: tuple[int, ...]  # bytes of the two activation buffers (layer k's bits live in buffer k % 2)
    avr_bytes: int = 0  # bytes of the AVR table layout's input byte array (0: no layer takes that path)
    avr_align: int = 0  # its alignment when the fast layers read it through a fixed high byte (else 0)
    # table layout off AVR: the two activation buffers with one byte per bit, in whole 32-bit words
    byte_buffers: tuple[int, ...] = ()
    # AVR table layout with layer 1 on the fast path: the encoder writes one byte per bit straight into
    # the fast path's byte array (layer 1 spreads nothing; buffer 0 holds no encoder bits)
    avr_encoder_bytes: bool = False
    # how the encoder finds each feature's rank (`encoder_search`): "table", a loop over the thresholds in
    # flash, or "immediate", generated comparisons with the thresholds as constants
    encoder_search: str = "table"
    encoder_reason: str = ""
    # unrolled layout with the immediate encoder: layer 1 tests `rank[f] > i` for thermometer bit (f, i)
    # (`rank_inputs`), so the encoder writes only the ranks (no bit writer, no layer-0 bits)
    rank_inputs: bool = False
    rank_reason: str = ""
    flash: dict = field(default_factory=dict)  # breakdown of the chosen layout, bytes
    ram: dict = field(default_factory=dict)
    flash_by_layout: dict = field(default_factory=dict)  # total estimate of each layout
    # C types of the generated code's counters (`_counter_ctypes`): the encoder's bit position and feature
    # index; the last layer's position in its class group, and the score bits formed so far (table layout)
    # or the group's count (unrolled)
    out_group: int = 0  # last-layer LUTs per class score: popcount group, or a reduction's score bits
    bitpos_ctype: str = "uint32_t"
    feature_ctype: str = "uint32_t"
    group_pos_ctype: str = "uint32_t"
    score_bits_ctype: str = "uint32_t"
    unrolled_count_ctype: str = "uint16_t"


#: Score C types, narrowest first, with the largest magnitude each holds (symmetric: the most negative
#: value of the type is left out, so negating or printing a score never overflows).
SCORE_CTYPES = (("int16_t", (1 << 15) - 1), ("int32_t", (1 << 31) - 1))


def score_type(model: FrozenDWN) -> str:
    """The narrowest C type holding every score the model can produce and every partial sum the C forms
    (`FrozenDWN.score_range`: 0 .. group size or 2^K - 1, plus each class's bias); PlanError when none does."""
    lo, hi = model.score_range
    for name, bound in SCORE_CTYPES:
        if -bound <= lo and hi <= bound:
            return name
    name, bound = SCORE_CTYPES[-1]
    raise PlanError(f"class scores reach {lo} .. {hi} (class_bias {int(model.class_bias.min())} .. "
                    f"{int(model.class_bias.max())}): beyond {name}, the widest score type (-{bound} .. {bound})")


def check_name(name: str) -> str:
    return c_identifier(name, "name", PlanError)


def mapping_format(prev_bits: int) -> str:
    """How the table-driven layout stores indices into a vector of `prev_bits` bits: decided here only
    (`LayerPlan.map_format`), which `pack` and the templates read."""
    if prev_bits <= 1 << 8:
        return "uint8"
    if prev_bits <= 1 << 12:
        return "packed12"
    return "uint16" if prev_bits <= 1 << 16 else "uint32"


def _layer_plans(model: FrozenDWN) -> tuple[LayerPlan, ...]:
    plans, prev = [], model.num_input_bits
    for i, layer in enumerate(model.layers, start=1):
        ns = np.unique(layer.n_inputs)
        n_max = int(ns.max())
        fmt = mapping_format(prev)
        plans.append(LayerPlan(
            index=i,
            num_luts=layer.num_luts,
            prev_bits=prev,
            n_max=n_max,
            uniform_n=int(ns[0]) if ns.size == 1 else None,
            map_format=fmt,
            map_ctype=ctype(narrowest_uint(max(prev - 1, 0))),
            addr_ctype="uint8_t" if n_max <= 8 else "uint16_t",
            toff_ctype="uint16_t" if layer.tables.size <= 0xFFFF else "uint32_t",
            lut_ctype="uint16_t" if layer.num_luts <= 0xFFFF else "uint32_t",
            table_bits=int(layer.tables.size),
            mapping_entries=int(layer.mapping.size),
            n_min=int(ns.min()),
            map_size=mapping_bytes(int(layer.mapping.size), fmt) if fmt == "packed12" else int(layer.mapping.size),
            table_byte_ctype="uint8_t" if n_max <= 11 else "uint16_t",
            unrolled_asm=ns.size == 1 and 4 <= int(ns[0]) <= 8,
            word_path=word_path_eligible(ns, fmt, int(layer.mapping.size)),
        ))
        prev = layer.num_luts
    return tuple(plans)


def word_path_eligible(ns, map_format: str, mapping_entries: int) -> bool:
    """Whether a table-layout layer takes the word path off AVR (layout_table.c.j2): every LUT has the
    same 5..8 inputs (a table of whole 32-bit words) and its mapping entries are whole integers."""
    return ns.size == 1 and 5 <= int(ns[0]) <= 8 and mapping_entries > 0 and map_format != "packed12"


def avr_fast_eligible(lp: LayerPlan, board: Board) -> bool:
    """Whether a table-layout layer can take the AVR fast path (layout_table.c.j2): every LUT has the same
    4..8 inputs (whole table bytes, at least one byte-index slot), and mapping entries are bytes, or 12-bit
    pairs with an even n (each LUT's entries start on a three-byte pair)."""
    return (board.arch == "avr" and lp.uniform_n is not None and 4 <= lp.uniform_n <= 8 and lp.mapping_entries > 0
            and (lp.map_format == "uint8" or (lp.map_format == "packed12" and lp.uniform_n % 2 == 0)))


def _table_layer_code(lp: LayerPlan, cost) -> int:
    """Code bytes of one table-layout layer: the AVR fast path, the word path off AVR, or the plain loop."""
    if lp.avr_fast:
        return (cost["layer_fast"] + cost["layer_fast_input"] * lp.uniform_n
                + (cost["layer_fast_input12"] * lp.uniform_n if lp.map_format == "packed12" else 0))
    if lp.word_path and "layer_word" in cost:
        return cost["layer_word"] + cost["layer_word_input"] * lp.uniform_n
    return cost["layer"]


def table_form_price(n: int, asm: bool, cost, lat) -> tuple[float, float]:
    """(bytes, cycles or instructions) of one unrolled LUT of `n` inputs in table form: its code
    (`u_lut` or the AVR assembly path's `u_lut_asm`), its table beyond 8 bits, and the latency price's
    steps for it (`dwn_mcu.latency`: per LUT and per input; on the C path, a table read from flash and
    a step per input of slots 3.. too; 0 where the architecture has no latency price)."""
    per_lut = cost["u_lut"]
    if asm and "u_lut_asm" in cost:
        code = cost["u_lut_asm"][n]
    else:
        code = per_lut[min(n, len(per_lut) - 1)] + cost["u_input"] * max(0, n - (len(per_lut) - 1))
    table = (1 << n) // 8 if n > UNROLLED_IMMEDIATE_MAX_N else 0
    if asm and "u_lut_asm" in cost:
        return code + table, lat.get("u_asm_lut", 0.0) + lat.get("u_asm_input", 0.0) * n
    wide = max(0, n - UNROLLED_IMMEDIATE_MAX_N)
    return code + table, (lat.get("u_lut", 0.0) + lat.get("u_input", 0.0) * n
                          + (lat.get("u_table_lut", 0.0) + lat.get("u_byte_input", 0.0) * wide if wide else 0.0))


def diagram_form_price(d: Diagram, cost, lat) -> tuple[float, float]:
    """(bytes, cycles or instructions) of one unrolled LUT in diagram form: `u_diag_lut` plus
    `u_diag_node` bytes per node; the latency price's per-LUT step plus one step per test on the mean
    path (inputs 1 or 0 with probability 1/2)."""
    return (cost["u_diag_lut"] + cost["u_diag_node"] * d.size,
            lat.get("u_diag_lut", 0.0) + lat.get("u_diag_node", 0.0) * d.mean_path())


#: The per-LUT rule, stated in each layer's comment.
FORM_RULE = "diagram form where its bytes + cycles (planner's price) are below the table form's"


def lut_forms(layer, lp: LayerPlan, arch: str) -> LayerPlan:
    """`lp` with each LUT's form chosen (`diagram_luts`): by `FORM_RULE`, one price of bytes plus
    cycles (instructions off AVR), each form priced by `table_form_price` / `diagram_form_price`. An
    architecture without a latency price is priced by bytes alone."""
    spec = architecture(arch)
    cost, lat = spec.dwn_code, (spec.latency or {}).get("dwn", {})
    if "u_diag_node" not in cost:
        return lp
    forms = []
    for j in range(layer.num_luts):
        n = int(layer.n_inputs[j])
        d = diagram(layer.lut_table(j))
        forms.append(sum(diagram_form_price(d, cost, lat)) < sum(table_form_price(n, lp.unrolled_asm, cost, lat)))
    count = sum(forms)
    reason = f"{count} of {lp.num_luts} LUTs in diagram form: {FORM_RULE}."
    return replace(lp, diagram_luts=tuple(forms), form_reason=reason)


def _unrolled_code(model: FrozenDWN, layers, cost, lat) -> float:
    """Code and table bytes of the unrolled layers, each LUT priced in its form."""
    total = 0.0
    for lp, layer in zip(layers, model.layers):
        forms = lp.diagram_luts or (False,) * lp.num_luts
        for j, in_diagram in enumerate(forms):
            if in_diagram:
                total += diagram_form_price(diagram(layer.lut_table(j)), cost, lat)[0]
            else:
                total += table_form_price(int(layer.n_inputs[j]), lp.unrolled_asm, cost, lat)[0]
    return total


def immediate_search_code(model: FrozenDWN, cost, key: str) -> int:
    """Code bytes of the immediate encoder's searches over the table encoder's loop and key function: a
    fixed part (negative: the loop goes), per feature read, per threshold (a constant, a compare, a branch
    and a rank), by input kind (architectures `_imm`)."""
    kind = "float32" if model.input_type == "float32" else "int8" if CTYPE_BYTES[key] == 1 else "int16"
    fixed, per_feature, per_threshold = cost["imm"][kind]
    read = int(np.count_nonzero(model.bits_per_feature))
    return int(round(fixed + per_feature * read + per_threshold * model.num_input_bits))


def _flash(model: FrozenDWN, board: Board, layers, layout: str, key: str, count: str,
           search: str = "table") -> dict:
    cost = architecture(board.arch).dwn_code
    out = {"thresholds": CTYPE_BYTES[key] * model.num_input_bits + CTYPE_BYTES[count] * model.num_features}
    if layout == "table":
        out["lut tables"] = sum((lp.table_bits + 7) // 8 for lp in layers)
        out["mappings"] = sum(mapping_bytes(lp.mapping_entries, lp.map_format) for lp in layers)
        out["input counts"] = sum(lp.num_luts for lp in layers if lp.uniform_n is None)
        padded = [lp for lp in layers if lp.avr_pad >= 0]
        if padded:  # the records' padding, and the most the array's alignment can leave in front of it
            out["record padding"] = sum(lp.avr_pad * lp.num_luts + (1 << (lp.uniform_n - 3)) - 1 for lp in padded)
        out["code"] = cost["fixed"] + sum(_table_layer_code(lp, cost) for lp in layers)
        if avr_encoder_bytes(model, layers):
            out["code"] += cost["encoder_bytes"]
    else:
        lat = (architecture(board.arch).latency or {}).get("dwn", {})
        tables = _unrolled_code(model, layers, cost, lat)
        # (the tables of table-form LUTs are in that price; the breakdown shows them apart)
        out["lut tables"] = int(sum((1 << int(layer.n_inputs[j])) // 8 for lp, layer in zip(layers, model.layers)
                                    for j in range(layer.num_luts) if int(layer.n_inputs[j]) > UNROLLED_IMMEDIATE_MAX_N
                                    and not (lp.diagram_luts and lp.diagram_luts[j])))
        out["code"] = int(round(cost["u_fixed"] + tables - out["lut tables"]))
    if model.input_type == "float32" and key == "uint16_t":
        out["code"] += cost["key16"]
    if search == "immediate":
        out["thresholds"] = CTYPE_BYTES[count] * model.num_features  # the counts stay: they place the bits
        # (the 16-bit key function is not needed: the searches compare float32 patterns)
        out["code"] += immediate_search_code(model, cost, key) - (cost["key16"] if key == "uint16_t" else 0)
    out["sketch"] = board.sketch_flash_for(model.input_type)
    return out


def _buffers(model: FrozenDWN, layers, encoder_bits: bool = True) -> tuple[int, ...]:
    """Layer k's bits (k = 0 is the encoder) live in buffer k % 2; the last layer feeds the scores directly.
    `encoder_bits=False`: the encoder writes elsewhere (`avr_encoder_bytes`), buffer 0 holds layers 2, 4..."""
    widths = [model.num_input_bits if encoder_bits else 0] + [lp.num_luts for lp in layers[:-1]]
    return tuple(max([(w + 7) // 8 for k, w in enumerate(widths) if k % 2 == parity] + [1])
                 for parity in (0, 1)[: min(2, len(widths))])


def _byte_buffers(model: FrozenDWN, layers) -> tuple[int, ...]:
    """The activation buffers of the table layout off AVR: one byte per bit, rounded up to 32-bit words."""
    widths = [model.num_input_bits] + [lp.num_luts for lp in layers[:-1]]
    return tuple(4 * max([(w + 3) // 4 for k, w in enumerate(widths) if k % 2 == parity] + [1])
                 for parity in (0, 1)[: min(2, len(widths))])


def _ram(model: FrozenDWN, board: Board, buffers, score_bytes: int) -> dict:
    return {
        "activation buffers": sum(buffers),
        "scores": score_bytes * model.num_classes,
        "stack": architecture(board.arch).dwn_stack,
        "sketch input buffer": CTYPE_BYTES[INPUT_CTYPES[model.input_type]] * model.num_features,
        "sketch": board.sketch_ram,
    }


AVR_ALIGN = 256  # the byte array's alignment on the aligned fast path: an input's address is one register
AVR_ALIGN_SLACK = AVR_ALIGN - 1  # the most RAM the linker can leave unused in front of it (priced in full)


def avr_record_pad(n: int) -> int:
    """Padding in front of each record (n mapping bytes, then the 2^(n-3) table bytes) that puts every table
    on a 2^(n-3)-byte boundary, so the table byte's address is an `or` and the next record an `andi` and an
    `adiw`: taken when it costs at most 3 bytes per LUT (n = 4, 5, 6), else -1 (records back to back)."""
    pad = -n % (1 << (n - 3))
    return pad if pad <= 3 else -1


def _fast_layers(layers, board: Board, ram: dict, fast_stack: int, ram_limit: int) -> tuple[tuple, int, int]:
    """AVR table layout: the fast path's byte array (static RAM) holds the widest fast layer's input. First
    choice: aligned to 256 bytes (the one-byte-entry layers then read it through a fixed high byte, at
    `AVR_ALIGN_SLACK` more bytes of RAM); while that does not fit `ram_limit`, unaligned; then the widest
    fast layer goes back to the plain loop. Returns the layer plans with `avr_fast` / `avr_aligned` /
    `avr_pad` set, the array's bytes and its alignment (0: none)."""
    fast = [avr_fast_eligible(lp, board) for lp in layers]
    while True:
        avr_bytes = max([8 * ((lp.prev_bits + 7) // 8) for lp, f in zip(layers, fast) if f] + [0])
        aligned = [f and lp.map_format == "uint8" for lp, f in zip(layers, fast)]
        free = ram_limit - (sum(ram.values()) + avr_bytes + fast_stack - ram["stack"])
        if any(aligned) and free >= AVR_ALIGN_SLACK:
            break
        aligned = [False] * len(layers)
        if not avr_bytes or free >= 0:
            break
        fast = [f and 8 * ((lp.prev_bits + 7) // 8) < avr_bytes for lp, f in zip(layers, fast)]
    out = tuple(replace(lp, avr_fast=f, avr_aligned=a, avr_pad=avr_record_pad(lp.uniform_n) if a else -1,
                        avr_unroll=2 if a and lp.uniform_n <= 6 else 1)
                for lp, f, a in zip(layers, fast, aligned))
    return out, avr_bytes, AVR_ALIGN if any(aligned) else 0


def avr_encoder_bytes(model: FrozenDWN, layers) -> bool:
    """Whether the encoder writes its bytes into the AVR fast path's byte array (layer 1 on that path)."""
    return bool(layers) and layers[0].avr_fast and model.num_input_bits > 0


def _layout_memory(model: FrozenDWN, board: Board, chosen: str, layers, fast_layers, avr_bytes: int, buffers,
                   ram: dict, fast_stack: int, avr_align: int = 0):
    """The chosen layout's layers and memory: (layers, bit buffers, AVR byte array, byte buffers off AVR),
    with `ram` (the RAM breakdown) updated to match."""
    unrolled_stack = architecture(board.arch).dwn_stack_unrolled
    if chosen == "unrolled" and unrolled_stack is not None:
        ram["stack"] = unrolled_stack[0] + unrolled_stack[1] * len(layers)
    if chosen == "table" and avr_bytes:
        layers = fast_layers
        ram["layer input bytes"] = avr_bytes + (AVR_ALIGN_SLACK if avr_align else 0)
        ram["stack"] = fast_stack
        if avr_encoder_bytes(model, layers):
            buffers = _buffers(model, layers, encoder_bits=False)
            ram["activation buffers"] = sum(buffers)
    else:
        avr_bytes = 0
    byte_buffers = _byte_buffers(model, layers) if chosen == "table" else ()
    if byte_buffers and board.arch != "avr":
        ram["activation buffers"] = sum(byte_buffers)
    return layers, buffers, avr_bytes, byte_buffers


def _choose_layout(layout: str | None, totals: dict, board: Board) -> tuple[str, str]:
    if layout is not None:
        return layout, f"{layout} layout requested"
    if totals["unrolled"] <= UNROLLED_FLASH_SHARE * board.flash:
        return "unrolled", (f"unrolled (fastest) fits: {totals['unrolled']} of {board.flash} bytes of flash "
                            f"(chosen while it stays under {UNROLLED_FLASH_SHARE:.0%} of the budget)")
    return "table", (f"unrolled would need {totals['unrolled']} of {board.flash} bytes of flash; the table-driven "
                     f"layout (smallest) needs {totals['table']}")


ENCODER_SEARCHES = ("table", "immediate")


def encoder_search(model: FrozenDWN, board: Board, flash: dict, immediate_flash: dict,
                   budget: Budget | None, request: str | None = None) -> tuple[str, str]:
    """How the encoder searches each feature's thresholds, and why: generated comparisons with the
    thresholds as constants ("immediate": no loads, no loop, no key function; simavr and QEMU measure it
    the faster on every target, BENCHMARKS.md "An encoder that costs little") while the chosen layout
    with it stays under UNROLLED_FLASH_SHARE of the board's flash and within the budget's model share; else
    the loop over the thresholds in flash ("table", 2 or 4 bytes per threshold)."""
    if request is not None:
        return request, f"{request} encoder requested"
    if model.num_input_bits == 0:
        return "table", "no thresholds to search"
    total, share = sum(immediate_flash.values()), UNROLLED_FLASH_SHARE * board.flash
    model_flash = total - sum(v for k, v in immediate_flash.items() if k in SKETCH_FLASH_PARTS)
    if total <= share and (budget is None or model_flash <= budget.flash):
        return "immediate", (f"thresholds as constants in the code (fastest): {total} bytes of flash with them, "
                             f"{sum(flash.values())} with a threshold table")
    return "table", (f"thresholds in a flash table: as constants in the code the model would need {total} "
                     f"bytes of flash" + ("" if budget is None else f", {model_flash} of a {budget.flash}-byte budget"))


def rank_inputs(model: FrozenDWN, layout: str, search: str, count: str = "uint8_t") -> tuple[bool, str]:
    """Whether layer 1 reads the encoder's ranks directly, and why: thermometer bit (f, i) is x > T[f][i],
    and a feature's thresholds increase, so it is set exactly when rank[f] (the thresholds below x) is
    above i, one compare with a constant. Taken in the unrolled layout (every input a constant test) with
    either encoder (both search each feature to its rank; the table encoder stores the rank instead of
    writing the run of ones): the bit writer's pass and the layer-0 bits go. The table layout reads its
    inputs by computed index and keeps the bits. Ranks must be bytes (`count_ctype` uint8_t: at most 255
    thresholds a feature), as AVR's assembly compares them with one `cpi`."""
    if model.num_input_bits == 0 or not model.layers:
        return False, "no thresholds"
    if layout != "unrolled":
        return False, "layer 1 reads thermometer bits (the table layout indexes its inputs)"
    if count != "uint8_t":
        return False, "layer 1 reads thermometer bits (a feature has more than 255 thresholds: ranks are not bytes)"
    return True, ("layer 1 compares each feature's rank with a constant (bit i of feature f is rank[f] > i): "
                  "no thermometer bits are written")


def _counter_ctypes(model: FrozenDWN) -> dict:
    """The C types of the generated code's counters: each the narrowest that holds its range."""
    u16 = lambda limit: "uint16_t" if limit <= 65535 else "uint32_t"  # noqa: E731
    out_group = model.score_bits if model.reduction_layers else model.group_size
    if model.reduction_layers:
        unrolled_count = "uint8_t" if out_group <= 8 else "uint16_t"
    else:
        unrolled_count = "uint8_t" if model.group_size <= 255 else "uint16_t"
    return {
        "out_group": out_group, "bitpos_ctype": u16(model.num_input_bits), "feature_ctype": u16(model.num_features),
        "group_pos_ctype": u16(out_group), "score_bits_ctype": "uint16_t" if out_group <= 16 else "uint32_t",
        "unrolled_count_ctype": unrolled_count,
    }


def _check_request(model: FrozenDWN, name: str, layout: str | None, encoder: str | None = None) -> None:
    check_name(name)
    if encoder is not None and encoder not in ENCODER_SEARCHES:
        raise PlanError(f"encoder {encoder!r} is not one of {', '.join(ENCODER_SEARCHES)}")
    if layout is not None and layout not in LAYOUTS:
        raise PlanError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if model.num_classes > 255:
        raise PlanError(f"{model.num_classes} classes: the C API returns the class as uint8_t (at most 255)")


def _encoder(model: FrozenDWN, board: Board, chosen: str, layers, types, by_layout: dict, totals: dict, ram: dict,
             budget, encoder) -> tuple[str, str]:
    """The encoder's search (`encoder_search`) for the chosen layout, with its flash, totals and RAM (the
    ranks array; the table layout's stack where the architecture measured it) updated in place."""
    imm = _flash(model, board, layers, chosen, *types, "immediate")
    imm.update({k: v for k, v in by_layout[chosen].items() if k == "selftest vectors"})
    search, reason = encoder_search(model, board, by_layout[chosen], imm, budget, encoder)
    if search == "immediate":
        by_layout[chosen] = imm
        totals[chosen] = sum(imm.values())
        imm_stack = architecture(board.arch).dwn_stack_immediate
        if chosen == "table" and imm_stack is not None:
            ram["stack"] = min(ram["stack"], imm_stack)
    else:
        ram.pop("feature ranks", None)
    return search, reason


def _rank_memory(model: FrozenDWN, board: Board, layers, parts: dict, ram: dict, search: str,
                 count: str) -> tuple[int, ...]:
    """Layer 1 reading the ranks (`rank_inputs`): the bit buffers without layer 0's bits, and `parts`
    (flash) and `ram` updated in place: the ranks array in RAM, the bit writer's code gone (`rank_writer`,
    where measured), and with the immediate encoder the counts too (they only placed the bits; the table
    encoder's search still reads them). The stack stays the layout's: the ranks function is a call of its
    own (noinline), as the bit writer was."""
    buffers = _buffers(model, layers, encoder_bits=False)
    if len(layers) <= 2:  # buffer 0 held layer 0's bits and would hold layer 2's, which feeds the scores
        buffers = (0,) + buffers[1:]
    ram["activation buffers"] = sum(buffers)
    ram["feature ranks"] = CTYPE_BYTES[count] * model.num_features
    spec = architecture(board.arch)
    if search == "immediate":
        parts["thresholds"] = 0
    parts["code"] -= spec.dwn_code.get("rank_writer", 0)
    return buffers


def make_plan(model: FrozenDWN, board: Board, name: str = "dwn_model", layout: str | None = None,
              selftest_count: int = 0, check_budget: bool = True, budget: Budget | None = None,
              encoder: str | None = None) -> Plan:
    """Choose types, buffers and layout for `model` on `board`; raise BudgetError when it does not fit.
    `selftest_count` test vectors embedded in the sketch count against the flash budget; `check_budget=False`
    plans a model for a test firmware that does not carry the sketch (e.g. on an emulator). `budget`: the
    model's own share must fit it too, and RAM-hungry options are fitted to it rather than to the board.
    `encoder`: "table" or "immediate" forces the encoder's search (`encoder_search`; benchmarks, tests)."""
    _check_request(model, name, layout, encoder)
    layers = _layer_plans(model)
    buffers = _buffers(model, layers)
    score_ctype = score_type(model)
    score_bytes = CTYPE_BYTES[score_ctype]
    input_ctype = INPUT_CTYPES[model.input_type]
    ram = _ram(model, board, buffers, score_bytes)
    key, count = key_ctype(model, board.arch), count_ctype(model)
    if model.num_input_bits and encoder != "table":  # the immediate encoder's ranks, held for the fast path's fit
        ram["feature ranks"] = CTYPE_BYTES[count] * model.num_features
    # (the fast path's frame without the score array, plus that array: it grows with the classes)
    fast_stack = max(ram["stack"], (architecture(board.arch).fast_frame or 0) + score_bytes * model.num_classes)
    ram_limit = board.ram if budget is None else budget.ram_limit(board)
    fast_layers, avr_bytes, avr_align = _fast_layers(layers, board, ram, fast_stack, ram_limit)
    unrolled_layers = layers
    if layout in (None, "unrolled"):
        unrolled_layers = tuple(lut_forms(layer, lp, board.arch) for layer, lp in zip(model.layers, layers))
    by_layout = {lay: _flash(model, board, {"table": fast_layers, "unrolled": unrolled_layers}[lay], lay, key, count)
                 for lay in LAYOUTS}
    if selftest_count:
        for parts in by_layout.values():
            parts["selftest vectors"] = selftest_count * (CTYPE_BYTES[input_ctype] * model.num_features
                                                          + 4 * model.num_classes + 1)
    totals = {lay: sum(v.values()) for lay, v in by_layout.items()}
    chosen, reason = _choose_layout(layout, totals, board)
    layers, buffers, avr_bytes, byte_buffers = _layout_memory(model, board, chosen,
                                                              unrolled_layers if chosen == "unrolled" else layers,
                                                              fast_layers, avr_bytes, buffers, ram, fast_stack,
                                                              avr_align)
    search, search_reason = _encoder(model, board, chosen, layers, (key, count), by_layout, totals, ram, budget,
                                     encoder)
    ranks, ranks_reason = rank_inputs(model, chosen, search, count)
    if ranks:
        buffers = _rank_memory(model, board, layers, by_layout[chosen], ram, search, count)
        totals[chosen] = sum(by_layout[chosen].values())
    plan = Plan(
        name=name, prefix=name.upper(), board=board, layout=chosen, layout_reason=reason,
        score_ctype=score_ctype, input_type=model.input_type, input_ctype=input_ctype, key_ctype=key,
        count_ctype=count,
        layers=layers, buffers=buffers, avr_bytes=avr_bytes, avr_align=avr_align if avr_bytes else 0,
        byte_buffers=byte_buffers, flash=by_layout[chosen],
        ram=ram, avr_encoder_bytes=avr_encoder_bytes(model, layers),
        encoder_search=search, encoder_reason=search_reason, rank_inputs=ranks, rank_reason=ranks_reason,
        flash_by_layout=totals, **_counter_ctypes(model),
    )
    if check_budget:
        check_fits(plan, budget)
    return plan


def check_fits(plan: Plan, budget: Budget | None = None) -> None:
    """BudgetError, naming the board, the budget, the layout and what takes the space, when `plan` does
    not fit (`budget.check_fits`, every family's check)."""
    check_budget_fits(plan, budget, "model", f" with the {plan.layout} layout")
