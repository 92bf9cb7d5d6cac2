"""The emlearn family in `compare`: the budget-fitted search on the int16 rows, the chosen model built
for the board and run on its emulator (the targets' `verify_program`, as every family), searched again
with a lowered planning budget while the ELF overshoots the budget, and the report's entry. With
emulation the chosen model's C is also proven on the host and on a QEMU Cortex-M (`proofs`)."""

from __future__ import annotations

import numpy as np

from ..architectures import architecture
from ..compiler.boards import get_board
from . import BaselineError
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
            "stack": r.stack_measured, "cycles": r.latency_summary(), "unit": r.latency_unit,
            "first_mismatch": r.first_mismatch}


def other_proofs(model, Xq, cortex_m: str = "cortex-m3") -> dict:
    """The chosen model's C on the host (strict and sanitizer builds) and on one QEMU Cortex-M, against
    emlearn's predict on every row: {proof: {"agree", "vectors"}} (a target whose tools are missing: absent).
    BaselineError when any disagrees."""
    from ..targets.toolchains import get_target, missing_tools
    from ..targets.verify import verify_program
    from ..families import EmlearnFamily
    from .emlearn_host import host_predict

    fam = EmlearnFamily(model)
    sources, ref = fam.render(EML_NAME), model.predict(Xq)
    out = {}
    for build in ("strict", "sanitize"):
        got = host_predict(sources, Xq, EML_NAME, model.num_classes, build)[0]
        out[f"host {build}"] = {"agree": int((got == ref).sum()), "vectors": int(len(ref))}
    if not missing_tools(get_target(cortex_m)):
        r = verify_program(fam.test_program(sources, EML_NAME, Xq), cortex_m, Xq)
        out[cortex_m] = {"agree": r.agree, "vectors": r.vectors, "model_flash": r.model_size.flash,
                         "instructions": r.latency_summary()}
    bad = [k for k, v in out.items() if v["agree"] != v["vectors"]]
    if bad:
        raise BaselineError(f"emlearn {model.kind}: the C disagrees with emlearn's predict on {bad[0]} "
                            f"({out[bad[0]]['vectors'] - out[bad[0]]['agree']} of {out[bad[0]]['vectors']} rows)")
    return out


def _fit(job: dict, budget: int):
    plan, em = budget, None
    Xtr, ytr, Xv, yv = job["int16_split"]
    for attempt in range(3):
        job["say"](f"budget {budget} bytes: emlearn search (planning to {plan} bytes)")
        res = train_emlearn(Xtr, ytr, Xv, yv, job["classes"], plan, planned_flash(job["board"], EML_NAME),
                            **job["emlearn_kwargs"])
        if not job["emulate"]:
            break
        target = architecture(get_board(job["board"]).arch).target
        job["say"](f"budget {budget} bytes: emlearn on {target}, {job['Xt_int16'].shape[0]} test rows")
        em = emulate(res.model, job["Xt_int16"], target)
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
        entry["proofs"] = other_proofs(res.model, Xt)
    cands = [{"budget": budget, "family": "emlearn", "chosen": c == res.best, "flash": c.size_bytes,
              "val_accuracy": c.val_accuracy} for c in res.candidates if c.fits]
    return entry, cands
