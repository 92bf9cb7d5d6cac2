"""The inline tree families in `compare` (emlearn's C, and our own forest C): the budget-fitted search on
the int16 rows (`emlearn_train.train_emlearn`, one search for both), the chosen model built for the board
and run on its emulator (the targets' `verify_program`, as every family), searched again with lowered
planning budgets while the ELF overshoots the flash budget or the measured median latency the latency
budget (`compare._search_until_within`, the loop every family runs under), and the report's entry.
With emulation the chosen model's C is also proven on the host and on a QEMU Cortex-M (`other_proofs`)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ..architectures import architecture
from ..compiler.boards import get_board
from . import BaselineError
from .emlearn_train import train_emlearn

EML_NAME = "eml_model"
FOREST_NAME = "forest_model"


class TreeSpec(NamedTuple):
    """What differs between the inline tree families."""

    label: str  # the report's family name, and the latency price's family
    name: str  # the C library's name
    family: Callable  # model -> families.ModelFamily
    convert: Callable  # (kind, estimator, features, classes) -> model
    planned_flash: Callable  # (board, name) -> size_fn
    plan: Callable  # (model, board, ram budget, name) -> Sizes (the report's planned flash and RAM)
    style: str  # appended to the shape in the report


def _emlearn_spec() -> TreeSpec:
    from ..families import EmlearnFamily
    from .emlearn_export import convert
    from .emlearn_plan import plan_emlearn, planned_flash

    return TreeSpec("emlearn", EML_NAME, EmlearnFamily, convert, planned_flash,
                    lambda m, board, ram, name: plan_emlearn(m, board, ram_budget=ram, name=name), " (inline)")


def _forest_spec() -> TreeSpec:
    from ..compiler.budget import Budget
    from ..families import ForestFamily
    from .forest_export import convert
    from .forest_plan import plan_forest, planned_flash

    def plan(m, board, ram, name):
        board = get_board(board)
        return plan_forest(m, board, Budget(board.flash, ram), name=name)
    return TreeSpec("forest", FOREST_NAME, ForestFamily, convert, planned_flash, plan, " (our inline C)")


SPECS = {"emlearn": _emlearn_spec, "forest": _forest_spec}


def emulate(fam, name: str, Xq, target: str = "avr") -> dict:
    """The chosen model (`fam`, a ModelFamily) in the emulator on every row of `Xq`: what `compare`
    keeps of its TargetResult."""
    from ..targets.verify import verify_program

    r = verify_program(fam.test_program(fam.render(name), name, Xq), target, Xq)
    return {"agree": r.agree, "vectors": r.vectors, "flash": r.model_size.flash, "ram": r.model_size.ram,
            "stack": r.stack_measured, "cycles": r.latency_summary(), "unit": r.latency_unit,
            "first_mismatch": r.first_mismatch}


def other_proofs(fam, name: str, Xq, cortex_m: str = "cortex-m3") -> dict:
    """The chosen model's C on the host (strict and sanitizer builds) and on one QEMU Cortex-M, against
    its reference on every row: {proof: {"agree", "vectors"}} (a target whose tools are missing: absent).
    BaselineError when any disagrees."""
    from ..targets.toolchains import get_target, missing_tools
    from ..targets.verify import verify_program
    from .emlearn_host import host_predict

    model = fam.model
    sources, ref = fam.render(name), model.predict(Xq)
    out = {}
    for build in ("strict", "sanitize"):
        got = host_predict(sources, Xq, name, model.num_classes, build)[0]
        out[f"host {build}"] = {"agree": int((got == ref).sum()), "vectors": int(len(ref))}
    if not missing_tools(get_target(cortex_m)):
        r = verify_program(fam.test_program(sources, name, Xq), cortex_m, Xq)
        out[cortex_m] = {"agree": r.agree, "vectors": r.vectors, "model_flash": r.model_size.flash,
                         "instructions": r.latency_summary()}
    bad = [k for k, v in out.items() if v["agree"] != v["vectors"]]
    if bad:
        raise BaselineError(f"{fam.name} {model.kind}: the C disagrees with its reference on {bad[0]} "
                            f"({out[bad[0]]['vectors'] - out[bad[0]]['agree']} of {out[bad[0]]['vectors']} rows)")
    return out


def tree_price(board, family: str):
    """The family's latency price on the board (`latency.tree_latency`), or None where not calibrated."""
    from ..latency import can_price, tree_latency

    board = get_board(board)
    return (lambda model: tree_latency(model, board.arch, family)) if can_price(board.arch, family) else None


def _fit(job: dict, budget: int, spec: TreeSpec):
    """The family's search at `budget` (and the latency budget), searched again while the built model's
    measured flash or median latency is over its budget: `compare._search_until_within`, the one loop
    every family runs under. Returns (result, emulated or None, plans)."""
    from ..compare import _search_until_within

    Xtr, ytr, Xv, yv = job["int16_split"]
    board = get_board(job["board"])
    target = architecture(board.arch).target

    def search(plan, lat):
        job["say"](f"budget {budget} bytes: {spec.label} search (planning to {plan} bytes"
                   + ("" if lat is None else f", {lat} priced") + ")")
        return train_emlearn(Xtr, ytr, Xv, yv, job["classes"], plan, spec.planned_flash(board, spec.name),
                             convert_fn=spec.convert, what=spec.label, latency_fn=tree_price(board, spec.label),
                             latency_budget=lat, **job["emlearn_kwargs"])

    return _search_until_within(job, budget, spec.label, search,
                                lambda res: emulate(spec.family(res.model), spec.name, job["Xt_int16"], target),
                                lambda res: (res.best.size_bytes, res.best.latency))


def tree_entry(job: dict, budget: int, family: str = "emlearn") -> tuple[dict, list]:
    """(report entry, candidates) of an inline tree family at `budget`. Accuracy is what the C computes
    (its reference); scikit-learn's own is reported beside it."""
    spec = SPECS[family]()
    from ..compare import _plan_fields

    res, em, plans = _fit(job, budget, spec)
    Xt, yt = job["Xt_int16"], job["yt"]
    plan = spec.plan(res.model, job["board"], job["ram_budget"], spec.name)
    entry = {"family": spec.label, "shape": res.best.shape() + spec.style, "val_accuracy": res.best.val_accuracy,
             "test_accuracy": float(np.mean(res.model.predict(Xt) == yt)),
             "sklearn_val_accuracy": res.best.sklearn_val_accuracy,
             "sklearn_test_accuracy": float(np.mean(res.model.sklearn_predict(Xt) == yt)),
             "planned_flash": plan.model_flash, "planned_ram": plan.model_ram,
             "priced_latency": res.best.latency, **_plan_fields(job, plans, em)}
    if res.most_accurate is not None:
        entry["most_accurate"] = {"shape": res.most_accurate.shape() + spec.style,
                                  "val_accuracy": res.most_accurate.val_accuracy,
                                  "priced_latency": res.most_accurate.latency}
    if em is not None:
        entry["emulator"] = em
        entry["proofs"] = other_proofs(spec.family(res.model), spec.name, Xt)
    cands = [{"budget": budget, "family": spec.label, "chosen": c == res.best, "flash": c.size_bytes,
              "val_accuracy": c.val_accuracy, "latency": c.latency} for c in res.candidates if c.fits]
    return entry, cands


def emlearn_entry(job: dict, budget: int) -> tuple[dict, list]:
    return tree_entry(job, budget, "emlearn")
