"""The emlearn family in `compare`: the budget-fitted search on the int16 rows, the chosen model built
for the board and run on its emulator (the targets' `verify_program`, as every family), searched again
with a lowered planning budget while the ELF overshoots the budget, and the report's entry."""

from __future__ import annotations

import numpy as np

from .emlearn_plan import plan_emlearn, planned_flash
from .emlearn_train import train_emlearn

EML_NAME = "eml_model"


def emulate(model, Xq, target: str = "avr") -> dict:
    """The chosen model in the emulator on every row of `Xq`: what `compare` keeps of its TargetResult."""
    from ..families import EmlearnFamily
    from ..targets.verify import verify_program

    fam = EmlearnFamily(model)
    r = verify_program(fam.test_program(fam.render(EML_NAME), EML_NAME, Xq), target, Xq)
    return {"agree": r.agree, "vectors": r.vectors, "flash": r.model_size.flash, "ram": r.model_size.ram,
            "stack": r.stack_measured, "cycles": r.latency_summary(), "first_mismatch": r.first_mismatch}


def _fit(job: dict, budget: int):
    plan, em = budget, None
    Xtr, ytr, Xv, yv = job["int16_split"]
    for attempt in range(3):
        job["say"](f"budget {budget} bytes: emlearn search (planning to {plan} bytes)")
        res = train_emlearn(Xtr, ytr, Xv, yv, job["classes"], plan, planned_flash(job["board"], EML_NAME),
                            **job["emlearn_kwargs"])
        if not job["emulate"]:
            break
        job["say"](f"budget {budget} bytes: emlearn in simavr, {job['Xt_int16'].shape[0]} test rows")
        em = emulate(res.model, job["Xt_int16"])
        if em["flash"] <= budget or attempt == 2:
            break
        plan = min(plan - (em["flash"] - budget), budget - (em["flash"] - res.best.size_bytes))
    return res, em, plan


def emlearn_entry(job: dict, budget: int) -> tuple[dict, list]:
    """(report entry, candidates) of the emlearn family at `budget`. Accuracy is what the C computes
    (emlearn's predict); scikit-learn's own is reported beside it."""
    res, em, plan_budget = _fit(job, budget)
    Xt, yt = job["Xt_int16"], job["yt"]
    plan = plan_emlearn(res.model, job["board"], ram_budget=job["ram_budget"], name=EML_NAME)
    entry = {"family": "emlearn", "shape": res.best.shape() + " (inline)", "val_accuracy": res.best.val_accuracy,
             "test_accuracy": float(np.mean(res.model.predict(Xt) == yt)),
             "sklearn_val_accuracy": res.best.sklearn_val_accuracy,
             "sklearn_test_accuracy": float(np.mean(res.model.sklearn_predict(Xt) == yt)),
             "planned_flash": plan.model_flash, "planned_ram": plan.model_ram, "planning_budget": plan_budget}
    if em is not None:
        entry["emulator"] = em
    cands = [{"budget": budget, "family": "emlearn", "chosen": c == res.best, "flash": c.size_bytes,
              "val_accuracy": c.val_accuracy} for c in res.candidates if c.fits]
    return entry, cands
