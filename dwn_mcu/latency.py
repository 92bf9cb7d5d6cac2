"""The planner's price of one inference: cycles on AVR (what simavr counts), instructions on the Cortex-M
and RV32 targets (what QEMU counts), as a pure function of what is compiled: a lowered DWN `Program`
(`compiler.lower.lower`), an exported XGBoost model (`baselines.xgb_export.XGBTables`, either layout) or
an inline scikit-learn tree model (emlearn's, or our forest's).

A price is a linear model: `features` counts the work the generated C does (features, binary-search
steps, thermometer bits, LUTs and inputs on each code path, classes; XGBoost: features, search steps,
trees, nodes on a path), and the architecture's record (`architectures.Architecture.latency`, fitted by
`bench/calibrate_latency.py` into `dwn_mcu/latency_constants.py`) gives each a cost. Data-dependent
work (how many bits are ones, which path a tree takes) is priced at its average: the constants are fitted
to the emulators' median per model. An architecture without fitted constants is refused, not guessed.
"""

from __future__ import annotations

import math

import numpy as np

from .architectures import architecture
from .errors import DWNError


class LatencyError(DWNError):
    """No latency price for this architecture and model family (not calibrated)."""


def _search_steps(counts) -> int:
    """Binary-search steps over each feature's sorted keys: ceil(log2(count + 1)) per feature."""
    return int(sum(math.ceil(math.log2(int(c) + 1)) for c in counts))


def dwn_features(program) -> dict:
    """The work one inference of `program` does, by the kind of step the generated C takes."""
    model, plan = program.model, program.plan
    F = model.num_features
    read = int(np.count_nonzero(model.bits_per_feature))  # a feature without thresholds needs no key
    out = {"feature": F, "float_feature": read if model.input_type == "float32" else 0,
           "key16": read if model.input_type == "float32" and plan.key_ctype == "uint16_t" else 0,
           "search": _search_steps(model.bits_per_feature), "bit": model.num_input_bits,
           # ones before a feature's first whole byte are written one by one (a shift per bit on AVR)
           "bit_small": int(np.minimum(model.bits_per_feature, 8).sum()),
           "class": model.num_classes, "out_lut": model.layers[-1].num_luts if model.layers else 0}
    if plan.encoder_search == "immediate":  # compares with constants: no key function, no loads, no loop
        # a feature without thresholds has no search: only the bit writer's loop passes over it
        out.update(float_feature=0, key16=0, imm_feature=read, imm_search=out.pop("search"), feature=read,
                   imm_empty=F - read)
    if plan.byte_buffers or plan.avr_encoder_bytes:  # the encoder writes one byte per bit, not bits
        out["byte"] = out.pop("bit")
        out.pop("bit_small")
    if plan.rank_inputs:  # layer 1 compares the ranks: no bit writer, so a feature's fixed cost is its own
        # (immediate: read, search, store the rank: `rank_feature`; one store without thresholds:
        # `rank_empty`; the table encoder's loop: read the count, search, store, per feature: `trank_feature`)
        for k in ("bit", "bit_small", "byte", "imm_empty", "imm_feature", "feature"):
            out.pop(k, None)
        if plan.encoder_search == "immediate":
            out.update(rank_feature=read, rank_empty=F - read)
        else:
            out.update(trank_feature=F)
    if plan.layout == "table":
        out.update(table=1, t_layer=0, t_lut=0, t_input=0, t_input12=0, t_fast_layer=0, t_fast_byte=0,
                   t_fast_lut=0, t_fast_input=0, t_fast_input12=0, t_word_layer=0, t_word_lut=0, t_word_input=0,
                   t_mixed_lut=0, t_mixed_input=0, t_mixed_input12=0)
        for i, (lp, layer) in enumerate(zip(plan.layers, model.layers)):
            kind = "t_fast_" if lp.avr_fast else "t_word_" if lp.word_path else "t_"
            # a layer of mixed counts reads each LUT's count (`_n[j]`) and shifts by it: its own steps
            step = "t_mixed_" if kind == "t_" and lp.uniform_n is None else kind
            out[kind + "layer"] += 1
            out[step + "lut"] += lp.num_luts
            out[step + "input"] += int(np.sum(layer.n_inputs))
            if lp.map_format == "packed12":  # each entry unpacked from a 12-bit pair (never the word path)
                out[step + "input12"] += int(np.sum(layer.n_inputs))
            if lp.avr_fast and not (i == 0 and plan.avr_encoder_bytes):  # bits spread into the byte array
                out["t_fast_byte"] += lp.prev_bits
    else:
        out.update(unrolled=1, u_lut=0, u_input=0, u_table_lut=0, u_byte_input=0, u_asm_lut=0, u_asm_input=0,
                   u_diag_lut=0, u_diag_node=0.0, u_rank_lut=0, u_asm_rank_input=0, u_asm_rank_load=0)
        for lp, layer in zip(plan.layers, model.layers):
            _unrolled_layer_features(out, lp, layer, plan.rank_inputs and lp.index == 1, model.bits_per_feature,
                                     plan.board.arch == "avr")
    return out


def _lut_ranks(layer, j: int, counts) -> tuple:
    """(feature, index) of each input of LUT `j` of layer 1 (`pack.rank_inputs`)."""
    from .compiler.pack import rank_inputs

    where = rank_inputs(counts)
    return tuple((int(where[i, 0]), int(where[i, 1])) for i in layer.lut_inputs(j))


def _unrolled_layer_features(out: dict, lp, layer, ranks: bool = False, counts=None, avr: bool = False) -> None:
    """Table-form LUTs: one step per LUT and per input, and for a LUT of more than
    `pack.UNROLLED_IMMEDIATE_MAX_N` inputs, whose table is read from flash, `u_table_lut` (the read) and
    `u_byte_input` per input of slots 3.. (each or-ed into the byte index `h`, not shifting `m`);
    diagram-form LUTs (`LayerPlan.diagram_luts`): one step per LUT and one per test on the mean path
    (`bdd.Diagram.mean_path`). The AVR assembly (`LayerPlan.unrolled_asm`, `u_asm_`) runs on AVR only:
    every other architecture compiles the C below its `#else` (`u_`), whatever the layer's counts.
    `ranks`: layer 1 compares ranks (`Plan.rank_inputs`), and each table-form LUT also counts a
    `u_rank_lut` step; `avr`: AVR's rank assembly (layers of 4..8 inputs) has steps of its own
    (`u_rank_lut`, `u_asm_rank_input` per input, and `u_asm_rank_load` per `lds`: the carries of slots 3..
    gathered and flipped into Z, slots 0..2 stepped past a branch)."""
    from .compiler.bdd import diagram
    from .compiler.pack import UNROLLED_IMMEDIATE_MAX_N, avr_rank_loads

    asm = lp.unrolled_asm and avr
    forms = lp.diagram_luts or (False,) * lp.num_luts
    for j, in_diagram in enumerate(forms):
        n = int(layer.n_inputs[j])
        if in_diagram:
            out["u_diag_lut"] += 1
            out["u_diag_node"] += diagram(layer.lut_table(j)).mean_path()
        elif ranks and asm:  # AVR's rank assembly; a feature's rank is loaded once per LUT while it
            # stays in a register (`pack.avr_rank_loads`)
            out["u_rank_lut"] += 1
            out["u_asm_rank_input"] += n
            out["u_asm_rank_load"] += sum(load for _, _, load in avr_rank_loads(_lut_ranks(layer, j, counts)))
        elif asm:
            out["u_asm_lut"] += 1
            out["u_asm_input"] += n
        else:
            out["u_lut"] += 1
            out["u_input"] += n
            out["u_table_lut"] += int(n > UNROLLED_IMMEDIATE_MAX_N)
            out["u_byte_input"] += max(0, n - UNROLLED_IMMEDIATE_MAX_N)
            out["u_rank_lut"] += int(ranks)


def _mean_leaf_depth(skip, right_leaf, start: int, count: int) -> float:
    """Mean depth of a tree's leaves, from its preorder nodes (`xgb_export`'s encoding)."""
    if count == 0:
        return 0.0
    depths, stack = [], [(start, 1)]  # (internal node, its depth)
    while stack:
        i, d = stack.pop()
        if skip[i]:
            stack.append((i + 1, d + 1))
        else:
            depths.append(d)
        if right_leaf[i]:
            depths.append(d)
        else:
            stack.append((i + int(skip[i]) + 1, d + 1))
    return float(np.mean(depths))


def _inline_leaf_depths(node: dict, depth: int = 0) -> list:
    """Depth (tests on the way) of each leaf of an inline tree as emitted (`xgb_inline.inline_trees`)."""
    if "leaf" in node:
        return [depth]
    return _inline_leaf_depths(node["left"], depth + 1) + _inline_leaf_depths(node["right"], depth + 1)


def xgb_features(tables, layout: str = "table") -> dict:
    """The work one inference of an exported XGBoost model does in `layout` (see `dwn_features`): the
    table layout searches each feature's keys and walks node tables; the inline one keys each feature
    it reads and runs each tree's if/else path. The int16 form (`xgb_integer`) keys nothing, and its
    inline trees test only the nodes they emit (constant ones pruned)."""
    counts = np.diff(tables.thr_start.astype(np.int64))
    if layout == "inline" and not tables.is_float:
        from .baselines.xgb_inline import inline_trees

        path = sum(float(np.mean(_inline_leaf_depths(t["root"]))) for t in inline_trees(tables))
        return {"base": 1, "tree": tables.num_trees, "node": path, "margin": tables.num_margins}
    skip, right_leaf = tables.node_skip.astype(np.int64), (tables.node_feat.astype(np.int64) & 1).astype(bool)
    starts = np.concatenate([[0], np.cumsum(tables.tree_nodes.astype(np.int64))])
    path = sum(_mean_leaf_depth(skip, right_leaf, int(s), int(n)) for s, n in zip(starts, tables.tree_nodes))
    if layout == "inline":
        return {"base": 1, "feature": int(np.count_nonzero(counts)), "tree": tables.num_trees, "node": path,
                "margin": tables.num_margins}
    return {"base": 1, "feature": tables.num_features, "search": _search_steps(counts),
            "tree": tables.num_trees, "node": path, "margin": tables.num_margins}


def tree_features(model, family: str = "emlearn") -> dict:
    """The work one inference of an inline scikit-learn tree model does (emlearn's or our forest's:
    `emlearn_export.EmlearnModel`, `forest_export.ForestModel`): one leaf per tree, the decision nodes
    on the paths weighted by the training rows that reach each leaf, the classes' scores; our multi-class
    forests add a row of class weights per tree (`leaf_class`)."""
    from .baselines.forest_export import expected_path

    T = len(getattr(model.estimator, "estimators_", [model.estimator]))
    C = model.num_classes
    out = {"base": 1, "tree": T, "node": expected_path(model.estimator), "class": C}
    if family == "forest":
        out["leaf_class"] = T * C if C > 2 else 0
    return out


def tree_latency(model, arch: str, family: str) -> int:
    """The price of one inference of an inline tree model of `family` ("emlearn", "forest") on `arch`."""
    return price(tree_features(model, family), _constants(arch, family))


def price(features: dict, constants) -> int:
    """Sum of each feature's count times its cost, rounded up (a feature without a cost costs nothing:
    a path the architecture does not have)."""
    return int(math.ceil(sum(constants.get(k, 0.0) * v for k, v in features.items())))


def check_calibrated(arch: str, family: str) -> None:
    """LatencyError (one line) when `family` has no latency price on `arch`."""
    if not can_price(arch, family):
        raise LatencyError(f"the latency of {family} on {arch} has not been calibrated, so a latency budget "
                           f"cannot be held (bench/calibrate_latency.py fits it where an emulator runs it)")


def _constants(arch: str, family: str):
    check_calibrated(arch, family)
    return architecture(arch).latency[family]


def unit(arch: str) -> str:
    """What a price of `arch` counts: cycles (AVR, simavr) or instructions (QEMU targets)."""
    tc = architecture(arch).toolchain
    return tc.latency_unit if tc else "cycles"


def dwn_family(input_type: str) -> str:
    """The latency family of a DWN reading `input_type`: float32 inputs ("dwn": keys, float16 or float32
    searches) and integer inputs ("dwn_int": compared as they come) are fitted apart by
    bench/calibrate_latency.py, as XGBoost's int16 form is (`xgb_family`). One fit over both priced the
    small int16 models compare chooses at 2 KB 41-53% over simavr (BENCHMARKS.md), what the larger float
    ones' costs left."""
    return "dwn" if input_type == "float32" else "dwn_int"


def program_latency(program) -> int:
    """The price of one inference of a lowered DWN on its board's architecture."""
    return price(dwn_features(program), _constants(program.plan.board.arch, dwn_family(program.model.input_type)))


def xgb_family(tables, layout: str = "table") -> str:
    """The latency family of an exported XGBoost model in `layout`: its layout and its input type (the
    int16 form's code differs: no keys, int16 compares), each fitted apart by bench/calibrate_latency.py."""
    return ("xgboost_inline" if layout == "inline" else "xgboost") + ("" if tables.is_float else "_int16")


def xgb_latency(tables, arch: str, layout: str = "table") -> int:
    """The price of one inference of an exported XGBoost model on `arch` in `layout`."""
    return price(xgb_features(tables, layout), _constants(arch, xgb_family(tables, layout)))


def can_price(arch: str, family: str) -> bool:
    table = architecture(arch).latency
    return bool(table) and family in table


def check_latency(program) -> None:
    """BudgetError (one line) when `program`'s price is over its budget's latency."""
    from .compiler.budget import BudgetError

    budget = program.budget
    if budget is None or budget.latency is None:
        return
    problem = budget.latency_problem(program_latency(program))
    if problem:
        raise BudgetError(f"model does not fit the latency budget on {program.plan.board.name} with the "
                          f"{program.plan.layout} layout: {problem.replace('cycles', unit(program.plan.board.arch))}")
