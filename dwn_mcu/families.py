"""Model families: what the SDK needs from a kind of model, so that host and emulator verification, ELF
accounting, atomic writing and reports exist once. A family gives its reference predictions, lowers
itself for a board and budget (a `compiler.program.Lowered`: the model, its flash and RAM by part in the
shared accounting `compiler.budget.Sizes`, the budget),
renders its C library, and describes its test firmware for the target proofs (`targets.testbench.
TestProgram`, run by `targets.verify.verify_program`). DWN, XGBoost, emlearn and forest implement it; another family is
one module like these plus its templates.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .compiler.budget import Budget
from .compiler.program import Lowered
from .targets.testbench import TestProgram


class ModelFamily(Protocol):
    name: str  # as reports say it: "DWN", "XGBoost"

    def reference(self, X) -> list:
        """Per row, the output the C must reproduce exactly (compared with ==)."""

    def lower(self, board, budget: Budget | None = None, name: str = "model") -> Lowered:
        """The family's program for `board` under `budget` (a `compiler.program.Lowered`: the model as
        compiled, its `Sizes`, the budget); BudgetError when it does not fit."""

    def render(self, name: str, board, layout: str | None = None) -> dict:
        """The C library `{NAME.h, NAME.c}`."""

    def test_program(self, sources: dict, name: str, X) -> TestProgram:
        """The test firmware's description for rows X: testbench, parser, reference outputs."""


class DWNFamily:
    name = "DWN"

    def __init__(self, model):
        self.model = model

    def reference(self, X) -> list:
        m = self.model
        return [(int(c), tuple(int(v) for v in s)) for c, s in zip(m.predict(X), m.scores(X))]

    def lower(self, board, budget: Budget | None = None, name: str = "dwn_model", layout: str | None = None):
        from .compiler.lower import lower

        return lower(self.model, board, budget, name=name, layout=layout)

    def render(self, name: str, board, layout: str | None = None) -> dict:
        from .compiler.project import render_model_sources

        return render_model_sources(self.model, board, name, layout)

    def test_program(self, sources: dict, name: str, X) -> TestProgram:
        from .targets.testbench import render_testbench
        from .targets.verify import parse_results

        C, input_type = self.model.num_classes, self.model.input_type
        phases = ("encoder", *(f"layer {i + 1}" for i in range(len(self.model.layers))), "scores and argmax")
        return TestProgram(
            name=name, sources=sources,
            testbench=lambda target, rows, with_model, marks=0: render_testbench(
                target, name, rows, C, with_model=with_model, input_type=input_type, marks=marks),
            parse=lambda text: parse_results(text, C), expected=self.reference(X),
            show=lambda v: {"class": v[0], "scores": list(v[1])}, phases=phases)


class XGBoostFamily:
    """An exported XGBoost model (`baselines.xgb_export.XGBTables`); `expected` = (classes, float32
    margins) to hold the C to (default: the tables' NumPy walk, which tests hold equal to xgboost's own);
    `layout`: "table" or "inline" (`baselines.xgb_plan.choose_layout` picks; both compute the same)."""

    name = "XGBoost"

    def __init__(self, tables, expected=None, layout: str | None = None):
        self.tables, self.expected, self.layout = tables, expected, layout

    def reference(self, X) -> list:
        from .baselines.xgb_export import predict_tables

        X = np.asarray(X, dtype=np.float32 if self.tables.is_float else np.int64)
        ref_class, ref_margin = self.expected if self.expected is not None else predict_tables(self.tables, X)
        ref_bits = np.asarray(ref_margin, np.float32).reshape(X.shape[0], -1).view(np.uint32)
        return [(int(c), tuple(int(b) for b in bits)) for c, bits in zip(ref_class, ref_bits)]

    def lower(self, board, budget: Budget | None = None, name: str = "xgb_model"):
        from .baselines.xgb_plan import lower_xgboost

        return lower_xgboost(self.tables, board, budget, layout=self.layout)

    def render(self, name: str, board=None, layout: str | None = None) -> dict:
        from .baselines.xgb_export import render_sources

        return render_sources(self.tables, name, layout or self.layout or "table")

    def test_program(self, sources: dict, name: str, X, target: str = "avr") -> TestProgram:
        from .baselines.xgb_target import _parse, render_testbench

        M = self.tables.num_margins
        if target != "avr":  # the QEMU targets: the targets' testbench, through the shim
            return self._shim_program(sources, name, X)
        return TestProgram(
            name=name, sources=sources,
            testbench=lambda target, rows, with_model: render_testbench(name, rows, M, with_model=with_model,
                                                                        input_type=self.tables.input_type),
            parse=lambda text: _parse(text, M), expected=self.reference(X))

    def _shim_program(self, sources: dict, name: str, X) -> TestProgram:
        from .baselines.xgb_target import SHIM, parse_shim, shim_sources
        from .targets.testbench import render_testbench

        M = self.tables.num_margins
        return TestProgram(
            name=SHIM, sources={**sources, **shim_sources(name, self.tables.input_type)},
            testbench=lambda target, rows, with_model: render_testbench(target, SHIM, rows, M, with_model=with_model,
                                                                        input_type=self.tables.input_type),
            parse=lambda text: parse_shim(text, M), expected=self.reference(X))


def _tree_test_program(model, input_type: str, sources: dict, name: str, X) -> TestProgram:
    """The test program of an inline tree model behind the DWN C API (emlearn's or our forest's): integer
    inputs of `input_type`, the class and per-class scores compared with the model's own reference."""
    from .targets.testbench import render_testbench
    from .targets.verify import parse_results

    C = model.num_classes
    return TestProgram(
        name=name, sources=sources,
        testbench=lambda target, rows, with_model: render_testbench(target, name, rows, C, with_model=with_model,
                                                                    input_type=input_type),
        parse=lambda text: parse_results(text, C), expected=model.reference(X),
        show=lambda v: {"class": v[0], "scores": list(v[1])})


class EmlearnFamily:
    """A scikit-learn tree or forest as emlearn's inline C (`baselines.emlearn_export.EmlearnModel`): int16
    inputs, the class one-hot as scores; the reference is emlearn's own host predict."""

    name = "emlearn"

    def __init__(self, model):
        self.model = model

    def reference(self, X) -> list:
        return self.model.reference(X)

    def lower(self, board, budget: Budget | None = None, name: str = "eml_model"):
        from .baselines.emlearn_plan import plan_emlearn

        return plan_emlearn(self.model, board, *((budget.flash, budget.ram) if budget else ()), name=name)

    def render(self, name: str, board=None, layout: str | None = None) -> dict:
        from .baselines.emlearn_export import render_sources

        return render_sources(self.model, name)

    def test_program(self, sources: dict, name: str, X) -> TestProgram:
        from .baselines.emlearn_export import INPUT_TYPE

        return _tree_test_program(self.model, INPUT_TYPE, sources, name, X)


class ForestFamily:
    """A scikit-learn forest or tree as our own inline C (`baselines.forest_export.ForestModel`): int16
    inputs, per-class integer sums as scores; the reference is the model's integer walk (exact in C)."""

    name = "forest"

    def __init__(self, model):
        self.model = model

    def reference(self, X) -> list:
        return self.model.reference(X)

    def lower(self, board, budget: Budget | None = None, name: str = "forest_model"):
        from .baselines.forest_plan import plan_forest

        return plan_forest(self.model, board, budget, name=name)

    def render(self, name: str, board=None, layout: str | None = None) -> dict:
        from .baselines.forest_export import render_sources

        return render_sources(self.model, name)

    def test_program(self, sources: dict, name: str, X) -> TestProgram:
        from .baselines.forest_export import INPUT_TYPE

        return _tree_test_program(self.model, INPUT_TYPE, sources, name, X)
