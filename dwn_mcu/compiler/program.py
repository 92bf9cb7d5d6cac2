"""A `Program`: everything decided for one model on one board, as one immutable value. `lower` (the one
place where decisions are made) returns it; the templates only print it (`render`), the report
serialises it (`project.report_dict`), and the planner's price is a function of it (`plan`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..frozen import FrozenDWN
from .budget import Budget, Sizes
from .pack import PackedEncoder, pack_encoder, pack_table_layer, pack_unrolled_layer
from .plan import Plan


@runtime_checkable
class Lowered(Protocol):
    """What every model family's `lower` returns (`families.ModelFamily`): the model as compiled, its
    flash and RAM by part (`Sizes`: totals, the model's share, what is over budget) and the budget it
    was priced against. DWN's is a `Program`, XGBoost's a `baselines.xgb_plan.XGBProgram`; reports and
    budget checks read only these."""

    model: object
    plan: Sizes
    budget: Budget | None


@dataclass(frozen=True, eq=False)
class Program:
    model: FrozenDWN  # the model as compiled: after the exact passes, in its input-count form
    plan: Plan  # layout, every C type, fast paths, memory map, flash and RAM by part
    encoder: PackedEncoder  # the thresholds as the encoder compares them
    layers: tuple  # each layer packed for the layout (PackedTableLayer or PackedUnrolledLayer)
    optimizer: dict | None = None  # what the exact passes removed (None: not run)
    budget: Budget | None = None  # the budget it was priced against (None: the whole board)


def pack_program(model: FrozenDWN, plan: Plan, optimizer: dict | None = None,
                 budget: Budget | None = None) -> Program:
    """The program of `model` planned as `plan`: its arrays packed the way the plan's layout reads them."""
    if plan.layout == "table":
        layers = tuple(pack_table_layer(layer, lp.map_format, lp.avr_pad if lp.avr_aligned else None)
                       for layer, lp in zip(model.layers, plan.layers))
    else:
        layers = tuple(pack_unrolled_layer(layer, lp.diagram_luts,
                                           model.bits_per_feature if plan.rank_inputs and lp.index == 1 else None)
                       for layer, lp in zip(model.layers, plan.layers))
    return Program(model, plan, pack_encoder(model, plan.key_ctype, plan.count_ctype, plan.encoder_search), layers,
                   optimizer, budget)
