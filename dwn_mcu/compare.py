"""DWN against the baselines (XGBoost, emlearn, forest) on one board at one or more flash budgets, side by side.

For each budget every family (`select_families`: DWN, XGBoost, emlearn, forest) is fitted to the same training
rows (minus the same stratified 20% validation split, every family on the same int16 scaling), held to
the same budget by the same rules (the planner's flash and RAM accounting, `dwn_mcu.compiler.make_plan`,
`dwn_mcu.baselines.xgb_plan`, `dwn_mcu.baselines.emlearn_plan`), scored on the test split, then built for
the board and run on its emulator where there is one (simavr for AVR boards): agreement with the
reference on the test split, the model's measured share of flash and RAM, and cycles per inference.
Budgets are fitted smallest first, and the DWNs chosen at smaller budgets are candidates at the larger
ones (priced again, possibly in a faster layout), as XGBoost's smaller models are in its search.
With a latency budget (`latency_budget`: the planner's price, `dwn_mcu.latency`) every family's search
rejects candidates priced over it, and, emulated, a family whose chosen model measures over it is searched
again with a lowered price (`_search_until_within`, the one loop of every family, as when its ELF
overshoots the flash budget). All choose by one rule (`dwn_mcu.selection`: the fastest within one standard
error of the most accurate on the validation rows; under a latency budget, the most accurate); the report
shows the most accurate and the chosen.
The emulator is the board's architecture's target: simavr on AVR (cycles), QEMU on Cortex-M and RV32
(instructions, said so in the report).

    report = compare(load_data(dataset="phoneme"), "nano", budgets=[2048, 8192], out_dir="compare")

writes `report.json`, `report.md`, `accuracy_vs_flash.png` and, emulated, `accuracy_vs_latency_<budget>.png`
in `out_dir` (all or nothing).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .architectures import architecture
from .baselines.xgb_export import render_sources
from .baselines.xgb_plan import lower_xgboost, planned_flash, planned_latency, planned_layout, require_measured
from .baselines.xgb_train import train_xgboost
from .budget_search import budgets as model_budgets
from .budget_search import search_dwn
from .compiler import Budget, get_board, render_model_sources
from .compiler.write import check_destination, write_tree
from .compare_verdict import COLORS, latency_plot, new_figure, png_bytes, verdict, verdict_lines
from .data import Dataset, stratified_split
from .errors import DWNError
from .selection import rule

REPORT_MARKER = "report.json"  # marks a folder `compare` wrote (the only kind --force replaces)
DWN_NAME = "dwn_model"
XGB_NAME = "xgb_model"
FAMILY_NAMES = ("dwn", "xgboost", "emlearn", "forest")  # `FAMILIES`' keys (defined below, by entry)


def default_budgets(board) -> list:
    """The board's whole model budget (flash beside the sketch) and two smaller shares: 2 KB and 8 KB
    when the board has room for them, else a sixteenth and a quarter."""
    whole, _ = model_budgets(board)
    small = [2048, 8192] if whole > 8192 else [whole // 16, whole // 4]
    return sorted({*small, whole})


def _xgb_classes(booster, X, num_classes):
    import xgboost as xgb

    d = xgb.DMatrix(np.asarray(X, np.float32))
    margins = np.asarray(booster.predict(d, output_margin=True), np.float32).reshape(len(X), -1)
    out = booster.predict(d)
    return ((out > 0.5) if num_classes == 2 else out).astype(np.int64), margins


def _emulate_dwn(dwn, board, X):
    """The search's chosen DWN built as planned, under the budgets its search planned to (without them the
    planner would take the whole board's choices, e.g. the larger immediate encoder), and run on X."""
    from .targets.verify import verify_on_target

    target = architecture(board.arch).target
    budget = Budget(dwn.flash_budget, dwn.ram_budget, dwn.latency_budget)
    sources = render_model_sources(dwn.model, board, DWN_NAME, dwn.layout, budget=budget)
    return _emulated(verify_on_target(dwn.model, target, X, sources, DWN_NAME))


def _emulated(r) -> dict:
    """What the comparison keeps of a family's `TargetResult` on the emulated chip."""
    return {"agree": r.agree, "vectors": r.vectors, "flash": r.model_size.flash, "ram": r.model_size.ram,
            "stack": r.stack_measured, "cycles": r.latency_summary(), "unit": r.latency_unit,
            "first_mismatch": r.first_mismatch}


def _emulate_xgb(tables, board, X, expected, layout="table"):
    from .baselines.xgb_target import verify_on_target

    r = verify_on_target(tables, architecture(board.arch).target, render_sources(tables, XGB_NAME, layout), XGB_NAME,
                         X, expected=expected)
    return _emulated(r)


def _check_request(board, out: Path, budgets, emulate: bool, force: bool) -> tuple[list, int]:
    """The budgets (sorted) and the model's RAM share; DWNError for a request that cannot be met
    (XGBoost is measured, and so emulated, where its code size is: `architectures`' `xgb_code`)."""
    check_destination(out, force, REPORT_MARKER, allow_empty=True)  # before the search, not after it
    whole_flash, ram_budget = model_budgets(board)
    budgets = default_budgets(board) if not budgets else sorted({int(b) for b in budgets})
    if budgets[0] <= 0:
        raise DWNError(f"budgets must be positive byte counts, got {budgets[0]}")
    if budgets[-1] > whole_flash:
        raise DWNError(f"budget {budgets[-1]} bytes exceeds what {board.name} leaves a model "
                       f"({whole_flash} bytes: {board.flash} flash minus {board.sketch_flash} for the sketch)")
    require_measured(board, "int16")  # before the DWN search: XGBoost must be priceable on this board
    if emulate and architecture(board.arch).target is None:
        raise DWNError(f"{board.name}: no emulator for {board.arch} here (use --no-emulate)")
    if emulate:
        try:
            from .targets import verify  # noqa: F401
        except ImportError:
            raise DWNError("emulation needs dwn_mcu.targets (simavr runner), not installed here; use --no-emulate")
    return budgets, ram_budget


SEARCHES = 3  # a family is searched at most this often per budget: once, then again while its ELF overshoots


class Unfitted(DWNError):
    """A family's first search at a budget failed, as a rule because nothing fits the budgets (`error`: the
    search's own error, whose text the report keeps), raised in place of that error only when the comparison
    lists such a family (`skip_unfitted`) and goes on."""

    def __init__(self, error: DWNError):
        super().__init__(str(error))
        self.error = error


def _replan(plan: int, budget: int, measured: int, planned: int) -> int:
    """The next planning budget of a family whose built model overshot a budget (flash bytes, or latency
    per inference): lowered by the overshoot, or by the estimate's error on that model if larger."""
    return min(plan - (measured - budget), budget - (measured - planned))


def _search_until_within(job: dict, budget: int, label: str, search: Callable, emulate: Callable,
                         priced: Callable):
    """A family's search at `budget` (and the latency budget), then, emulated, searched again (at most
    `SEARCHES` times in all) while the built model's measured flash or median latency is over its budget,
    each planning budget lowered by `_replan`. `search(flash plan, latency plan)` returns a result,
    `emulate(result)` what `_emulated` keeps, `priced(result)` its (planned flash, priced latency).
    Returns (result, emulated, plans): plans = the last search's planning budgets, the searches run, and
    why a further search was not run when the last model is still over its latency budget."""
    plan, lat, latency = budget, job["latency"], job["latency"]
    try:
        result, em, plans = search(plan, lat), None, {"flash": budget, "latency": latency, "searches": 1}
    except DWNError as exc:
        if job.get("skip_unfitted"):
            raise Unfitted(exc) from exc
        raise
    while job["emulate"]:
        job["say"](f"budget {budget} bytes: {label} emulated, {job['Xt'].shape[0]} test rows")
        em = emulate(result)
        over_lat = latency is not None and em["cycles"]["median"] > latency
        if (em["flash"] <= budget and not over_lat) or plans["searches"] == SEARCHES:
            break
        flash, price = priced(result)
        plan = _replan(plan, budget, em["flash"], flash) if em["flash"] > budget else plan
        # a median may be a half: the plan is rounded down (the safe side), to whole cycles or instructions
        lat = math.floor(_replan(lat, latency, em["cycles"]["median"], price)) if over_lat else lat
        if lat is not None and lat <= 0:  # nothing is priced at or under zero: the model stays, reported so
            plans["not_searched"] = f"its lowered latency plan, {lat}, leaves nothing to price"
            break
        job["say"](f"budget {budget} bytes: {label} measured {em['flash']} bytes, {em['cycles']['median']:,} per "
                   f"inference (priced {price}): over budget, searched again")
        try:
            again = search(plan, lat)
        except DWNError as exc:  # nothing fits the lowered plan: keep the model measured, say why
            if em["flash"] > budget:
                raise  # a model over the flash budget cannot be kept (`_check_emulated` refuses it)
            plans["not_searched"] = str(exc)
            break
        result, plans = again, {**plans, "flash": plan, "latency": lat, "searches": plans["searches"] + 1}
    return result, em, plans


def _fit_dwn(job: dict, budget: int, chosen_dwns: list):
    """The DWN search at `budget`, searched again while the built model overshoots (plans and prices are
    estimates; the ELF and the emulator are the judges). Returns (result, emulated, plans)."""
    def search(plan, lat):
        job["say"](f"budget {budget} bytes: DWN search (planning to {plan} bytes"
                   + ("" if lat is None else f", {lat} priced") + ")"
                   + ("" if job["engine"] == "local" else ", on the search engine"))
        if job["engine"] == "ray":
            return _search_dwn_on_engine(job, plan, lat, chosen_dwns)
        return search_dwn(*job["split"], job["classes"], job["board"], flash_budget=plan,
                          ram_budget=job["ram_budget"], incumbents=chosen_dwns, latency_budget=lat,
                          quantization=job["quantization"], **job["dwn_kwargs"])

    return _search_until_within(
        job, budget, "DWN", search, lambda dwn: _emulate_dwn(dwn, job["board"], job["Xt_int16"]),
        lambda dwn: (dwn.best.flash, dwn.best.latency))


ENGINES = ("local", "ray")


def check_engine(engine: str, address: str | None) -> None:
    """`engine` is one of ENGINES; `address` only with "ray", and answering (a TCP connection, seconds);
    "ray" needs the search extra. DWNError (one line) before any family is fitted."""
    from importlib.util import find_spec

    if engine not in ENGINES:
        raise DWNError(f"unknown engine {engine!r} (engines: {', '.join(ENGINES)})")
    if address and engine != "ray":
        raise DWNError("--address needs --engine ray")
    if engine == "ray":
        missing = [m for m in ("ray", "optuna") if find_spec(m) is None]
        if missing:
            raise DWNError(f"--engine ray needs {' and '.join(missing)}: pip install 'dwn-mcu[search]'")
        if address:
            from .search.cluster import check_reachable

            check_reachable(address)


def _search_dwn_on_engine(job: dict, plan: int, lat, chosen_dwns: list):
    """The DWN candidates from the search engine's trials (`search.fit.search_dwn_on_engine`: Optuna's
    multi-objective sampler, trials as Ray tasks), as `search_dwn`'s result: chosen by the same rule."""
    from .search.fit import search_dwn_on_engine

    kw = job["dwn_kwargs"]
    return search_dwn_on_engine(*job["split"], job["classes"], job["board"], plan, job["ram_budget"],
                                max_trials=kw["max_trials"], time_limit=kw["time_limit"], seed=kw["seed"],
                                epochs=kw["epochs"], progress=kw["progress"], incumbents=chosen_dwns,
                                latency_budget=lat, address=job["address"], dataset=job["dataset"],
                                quantization=job["quantization"])


def _fit_xgb(job: dict, budget: int):
    """The XGBoost search at `budget`, searched again like the DWN's. Returns (result, test predictions,
    emulated, plans); the layout (table or inline) is chosen under the budgets each search plans to.
    It trains on the float32 features of the int16 rows; its firmware (the result's tables, priced and
    built) is the integer form reading the int16 rows, held to xgboost's predictions on those features."""
    board = job["board"]

    def search(plan, lat):
        job["say"](f"budget {budget} bytes: XGBoost search (planning to {plan} bytes"
                   + ("" if lat is None else f", {lat} priced") + ")")
        limits = Budget(plan, job["ram_budget"], lat)
        xgb = train_xgboost(*job["split"], job["classes"], plan, size_fn=planned_flash(board, limits),
                            progress=job["say"], latency_fn=_xgb_price(board, limits), latency_budget=lat,
                            layout_fn=planned_layout(board, limits), quantization=job["quantization"],
                            **job["xgb_kwargs"])
        return xgb, _xgb_classes(xgb.booster, job["Xt"], job["classes"])

    (xgb, pred), em, plans = _search_until_within(
        job, budget, "XGBoost", search,
        lambda r: _emulate_xgb(r[0].tables, board, job["Xt_int16"], r[1], r[0].best.layout),
        lambda r: (r[0].best.size_bytes, r[0].best.latency))
    return xgb, pred, em, plans


def _xgb_price(board, limits):
    """XGBoost's latency price on the board in the layout chosen under `limits` (`xgb_plan.planned_latency`),
    or None where it is not calibrated."""
    from .latency import can_price

    return planned_latency(board, limits) if can_price(board.arch, "xgboost_int16") else None


def _check_latency(board, latency_budget, families=tuple(FAMILY_NAMES)):
    """The latency budget in cycles (None: none), refused where a family cannot be priced on the board."""
    from .compiler.budget import latency_cycles
    from .latency import check_calibrated

    if latency_budget is None:
        return None
    priced = [f for f in families if f != "xgboost"]
    if "xgboost" in families:  # its int16 layouts are priced apart; the inline one exists where it is measured
        inline = architecture(board.arch).inline_lib_code_int16 is not None
        priced += ["xgboost_int16"] + (["xgboost_inline_int16"] if inline else [])
    for family in priced:
        check_calibrated(board.arch, family)
    return latency_cycles(latency_budget, board)


def _leader(c, shape: str) -> dict:
    """The most accurate candidate of a family, as the report lists it beside the chosen one."""
    return {"shape": shape, "val_accuracy": c.val_accuracy, "priced_latency": c.latency}


def _check_emulated(entries: list, budget: int) -> None:
    for e in entries:
        em = e["emulator"]
        if em["agree"] != em["vectors"]:
            raise DWNError(f"{e['family']} at {budget} bytes: the emulated firmware disagrees with the "
                           f"reference on {em['vectors'] - em['agree']} of {em['vectors']} rows")
        if em["flash"] > budget:
            raise DWNError(f"{e['family']} at {budget} bytes: measured flash {em['flash']} exceeds "
                           f"the budget (planned {e['planned_flash']})")


def _winner(entries: list, emulate: bool) -> str:
    """The most accurate family on the test split; on a tie, the fastest (emulated) or "tie"."""
    best = max(e["test_accuracy"] for e in entries)
    top = [e for e in entries if e["test_accuracy"] == best]
    if len(top) == 1:
        return top[0]["family"]
    if emulate:
        return min(top, key=lambda e: e["emulator"]["cycles"]["median"])["family"] + " (faster)"
    return "tie"


def _dwn_entry(job: dict, budget: int, chosen_dwns: list) -> tuple[dict, list, tuple]:
    dwn, dwn_em, plans = _fit_dwn(job, budget, chosen_dwns)
    entry = {"family": "DWN", "shape": dwn.best.shape + f" ({dwn.layout} layout)",
             "val_accuracy": dwn.best.val_accuracy,
             "test_accuracy": float(np.mean(dwn.model.predict(job["Xt_int16"]) == job["yt"])),
             "planned_flash": dwn.best.flash, "planned_ram": dwn.best.ram, "priced_latency": dwn.best.latency,
             **_plan_fields(job, plans, dwn_em),
             "most_accurate": _leader(dwn.most_accurate, f"{dwn.most_accurate.shape} ({dwn.most_accurate.layout} layout)")}
    if job["emulate"]:
        entry["emulator"] = dwn_em
    cands = [{"budget": budget, "family": "DWN", "chosen": c.shape == dwn.best.shape and c.trained,
              "flash": c.flash, "val_accuracy": c.val_accuracy, "latency": c.latency}
             for c in dwn.candidates if c.trained]
    return entry, cands, (dwn.shape, dwn.trained)


def _xgb_entry(job: dict, budget: int, chosen_dwns: list) -> tuple[dict, list, None]:
    xgb, xgb_pred, xgb_em, plans = _fit_xgb(job, budget)
    board = get_board(job["board"])
    xplan = lower_xgboost(xgb.tables, board, Budget(board.flash, job["ram_budget"]), layout=xgb.best.layout).plan
    entry = {"family": "XGBoost", "shape": xgb.best.shape(), "val_accuracy": xgb.best.val_accuracy,
             "test_accuracy": float(np.mean(xgb_pred[0] == job["yt"])), "planned_flash": xplan.model_flash,
             "planned_ram": xplan.model_ram, "priced_latency": xgb.best.latency,
             **_plan_fields(job, plans, xgb_em),
             "most_accurate": _leader(xgb.most_accurate, xgb.most_accurate.shape())}
    if job["emulate"]:
        entry["emulator"] = xgb_em
    cands = [{"budget": budget, "family": "XGBoost", "chosen": c == xgb.best, "flash": c.size_bytes,
              "val_accuracy": c.val_accuracy, "latency": c.latency} for c in xgb.candidates if c.fits]
    return entry, cands, None


def _plan_fields(job: dict, plans: dict, em) -> dict:
    """What a family's report entry says of its searches: the planning budgets of the last (flash bytes;
    priced latency, when there is a latency budget), how many ran, and, emulated under a latency budget,
    whether the model is still measured over it (and why it was not searched again)."""
    out = {"planning_budget": plans["flash"], "searches": plans["searches"]}
    if job["latency"] is not None:
        out["latency_planning_budget"] = plans["latency"]
        if em is not None:
            out["over_latency_budget"] = bool(em["cycles"]["median"] > job["latency"])
    if "not_searched" in plans:
        out["not_searched_again"] = plans["not_searched"]
    return out


def _emlearn_entry(job: dict, budget: int, chosen_dwns: list) -> tuple[dict, list, None]:
    from .baselines.emlearn_compare import tree_entry

    return (*tree_entry(job, budget, "emlearn"), None)


def _forest_entry(job: dict, budget: int, chosen_dwns: list) -> tuple[dict, list, None]:
    from .baselines.emlearn_compare import tree_entry

    return (*tree_entry(job, budget, "forest"), None)


class Family(NamedTuple):
    label: str  # as reports say it
    entry: Callable  # (job, budget, chosen DWNs) -> (report entry, candidates, chosen DWN or None)
    module: str  # the package it needs
    extra: str  # the dwn-mcu extra that installs it


#: compare's families, by the name `--families` takes.
FAMILIES = {"dwn": Family("DWN", _dwn_entry, "torch", "train"),
            "xgboost": Family("XGBoost", _xgb_entry, "xgboost", "baselines"),
            "emlearn": Family("emlearn", _emlearn_entry, "emlearn", "emlearn"),
            "forest": Family("forest", _forest_entry, "sklearn", "forest")}


def select_families(names=None) -> tuple[list, list]:
    """(family names to run, a note per default family skipped as not installed). Named families must
    exist and be installed (DWNError, one line, naming the extra); by default every installed one runs."""
    from importlib.util import find_spec

    if names:
        names = list(dict.fromkeys(n.strip().lower() for n in names))
        unknown = [n for n in names if n not in FAMILIES]
        if unknown:
            raise DWNError(f"unknown family {unknown[0]!r} (families: {', '.join(FAMILIES)})")
    missing = {n: FAMILIES[n].extra for n in (names or FAMILIES) if find_spec(FAMILIES[n].module) is None}
    if names and missing:
        n = next(iter(missing))
        raise DWNError(f"family {n} is not installed: pip install 'dwn-mcu[{missing[n]}]'")
    chosen = [n for n in FAMILIES if n in (names or FAMILIES) and n not in missing]
    if not chosen:
        raise DWNError("no model family is installed: pip install 'dwn-mcu[train,baselines,emlearn]'")
    return chosen, [f"{n} skipped: not installed (pip install 'dwn-mcu[{x}]')" for n, x in missing.items()]


def _budget_row(job: dict, budget: int, chosen_dwns: list) -> tuple[dict, list, tuple | None]:
    """Every family at one budget: (report row, their candidates, the chosen DWN as an incumbent). With
    `skip_unfitted`, a family whose search finds nothing within the budgets is the row's `unfitted` (why),
    and the first such error is raised only when no family fits."""
    entries, candidates, chosen, unfitted = [], [], None, []
    for family in job["families"]:
        try:
            entry, cands, extra = FAMILIES[family].entry(job, budget, chosen_dwns)
        except Unfitted as exc:
            unfitted.append((FAMILIES[family].label, exc.error))
            continue
        entries.append(entry)
        candidates += cands
        chosen = extra if family == "dwn" else chosen
    if not entries:
        raise unfitted[0][1]
    if job["emulate"]:
        _check_emulated(entries, budget)
    row = {"budget": budget, "entries": entries, "winner": _winner(entries, job["emulate"])}
    if unfitted:
        row["unfitted"] = [{"family": label, "reason": str(err)} for label, err in unfitted]
    return row, candidates, chosen


def _scaled_inputs(X, Xt, val) -> dict:
    """The one input scaling of every family: an int16 quantization fitted on the training rows
    (`integer_inputs.Quantization`). Every firmware reads the integers; a family that trains on floats
    trains on the float32 values they stand for (`features`), and its model is turned into the integer
    model equal to it on them (the DWN: `Quantization.model`), so every family sees the same information."""
    from .integer_inputs import Quantization

    quantization = Quantization.fit(X[~val], "int16")
    q = {"train": quantization.rows(X), "test": quantization.rows(Xt)}
    return {"int16": q, "float": {k: quantization.features(v) for k, v in q.items()}, "quantization": quantization,
            "rule": "int16 = round((x - offset) / scale), fitted on the training rows; every firmware reads the "
                    "int16 values; the DWN and XGBoost train on float32(k * scale + offset)"}


def compare(data: Dataset, board, budgets=None, out_dir="compare", *, seed: int = 0, dwn_trials: int = 24,
            dwn_time_limit: float | None = 300.0, epochs: int = 40, xgb_trials: int | None = None,
            xgb_time_limit: float | None = 60.0, emlearn_trials: int | None = None,
            emlearn_time_limit: float | None = 60.0, families=None, emulate: bool = True, force: bool = False,
            progress: Callable[[str], None] | None = None, latency_budget=None, engine: str = "local",
            address: str | None = None, skip_unfitted: bool = True) -> dict:
    """Fit, score, build and measure every family (`select_families`) at each budget (under
    `latency_budget` too: cycles, or "150us" at the board's clock); write the report; return it.
    `engine`: "local", the in-process DWN shape search (`budget_search`), or "ray", the DWN candidates
    from the search engine's trials (`dwn-mcu search`'s, on a local Ray instance or the cluster at
    `address`); either way chosen by the same rule, then built, measured and searched again alike.
    `skip_unfitted` (default): a family that fits nothing at a budget is listed with why (the row's
    `unfitted`, and a line of the report) and the others compared; the comparison fails only when no family
    fits. False: the first family that fits nothing stops it, with its own error."""
    board = get_board(board)
    out = Path(out_dir)
    families, notes = select_families(families)
    check_engine(engine, address)
    budgets, ram_budget = _check_request(board, out, budgets, emulate, force)
    latency = _check_latency(board, latency_budget, families)
    say = progress or (lambda msg: None)
    for note in notes:
        say(note)
    X, y = data.train_split()
    Xt, yt = data.test_split()
    if Xt.shape[0] == 0:
        raise DWNError(f"{data.name}: the test split is empty")
    val = stratified_split(y, 0.2, seed=seed)
    inputs = _scaled_inputs(X, Xt, val)
    Xf, Xi = inputs["float"]["train"], inputs["int16"]["train"]
    job = {"board": board, "ram_budget": ram_budget, "latency": latency, "emulate": emulate, "say": say, "families": families,
           "engine": engine, "address": address, "dataset": data.name, "skip_unfitted": skip_unfitted,
           "quantization": inputs["quantization"],
           "Xt": inputs["float"]["test"], "Xt_int16": inputs["int16"]["test"], "yt": yt, "classes": data.num_classes,
           "split": (Xf[~val], y[~val], Xf[val], y[val]), "int16_split": (Xi[~val], y[~val], Xi[val], y[val]),
           "dwn_kwargs": {"max_trials": dwn_trials, "time_limit": dwn_time_limit, "seed": seed, "epochs": epochs,
                          "progress": say},
           "xgb_kwargs": {"max_trials": xgb_trials, "time_limit": xgb_time_limit, "seed": seed},
           "emlearn_kwargs": {"max_trials": emlearn_trials, "time_limit": emlearn_time_limit, "seed": seed,
                              "progress": say}}
    rows, candidates = [], []
    chosen_dwns = []  # a model that fits a smaller budget fits the larger ones: a candidate there too
    for budget in budgets:
        row, cands, chosen = _budget_row(job, budget, chosen_dwns)
        rows.append(row)
        candidates += cands
        chosen_dwns = chosen_dwns + ([chosen] if chosen else [])
    report = {"dataset": data.name, "board": board.as_dict(), "budgets": budgets, "ram_budget": ram_budget,
              "families": [FAMILIES[f].label for f in families], "skipped_families": notes,
              "input_scaling": inputs["rule"],
              "train_rows": int((~val).sum()), "validation_rows": int(val.sum()), "test_rows": int(Xt.shape[0]),
              "seed": seed, "emulated": emulate, "rows": rows, "candidates": candidates,
              "latency_budget": latency, "latency_unit": _unit(board), "dwn_engine": engine}
    report["verdict"] = verdict(report)
    _write(report, out, force)
    return report


def _unit(board) -> str:
    from .latency import unit

    return unit(board.arch)


def table_lines(report: dict) -> list:
    """The printed table (Markdown): one line per family and budget (the chosen models), and the winner."""
    emu, unit = report["emulated"], report.get("latency_unit", "cycles")
    lines = [f"| budget B | family | shape | test acc | flash B | RAM B | {unit}/inference | priced | winner |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in report["rows"]:
        for e in row["entries"]:
            em = e.get("emulator")
            flash = f"{em['flash']}" if emu else f"{e['planned_flash']} (planned)"
            ram = f"{em['ram']} + {em['stack']} stack" if emu else f"{e['planned_ram']} (planned)"
            cycles = f"{em['cycles']['median']:,.0f}" if emu else "not emulated"
            win = row["winner"] if e is row["entries"][0] else ""
            priced = "-" if e.get("priced_latency") is None else f"{e['priced_latency']:,}"
            lines.append(f"| {row['budget']} | {e['family']} | {e['shape']} | {100 * e['test_accuracy']:.2f}% "
                         f"| {flash} | {ram} | {cycles} | {priced} | {win} |")
        lines += [f"| {row['budget']} | {u['family']} | none fits: {u['reason']} | - | - | - | - | - | |"
                  for u in row.get("unfitted", ())]
    return lines


def leader_lines(report: dict) -> list:
    """The most accurate candidate of each family and budget beside the chosen one (Markdown)."""
    lines = ["| budget B | family | most accurate | val acc | priced | chosen | val acc | priced |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    show = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
    for row in report["rows"]:
        for e in row["entries"]:
            if "most_accurate" not in e:  # a report written before every family had a most accurate pick
                continue
            m = e["most_accurate"]
            lines.append(f"| {row['budget']} | {e['family']} | {m['shape']} | {m['val_accuracy']:.4f} | "
                         f"{show(m['priced_latency'])} | {e['shape']} | {e['val_accuracy']:.4f} | "
                         f"{show(e['priced_latency'])} |")
    return lines


def _markdown(report: dict) -> str:
    b = report["board"]
    head = [f"# {' vs '.join(report['families'])}: {report['dataset']} on {b['name']}", "",
            f"Training rows {report['train_rows']}, validation rows {report['validation_rows']}, test rows "
            f"{report['test_rows']}; seed {report['seed']}; RAM budget {report['ram_budget']} bytes. Inputs: "
            f"{report['input_scaling']}. Flash and RAM are the model's share of the firmware" +
            (f" measured from the ELF (with the model minus without it); {_measured(report)}, median over "
             "the test split; every firmware agrees with its reference on every test row. A family whose "
             "built model exceeded the budget was searched again with a planning budget lowered by "
             "the overshoot or the estimate's error (`planning_budget` in report.json); likewise, under a "
             "latency budget, a family whose median measured latency exceeded it, with its priced budget "
             "lowered (`latency_planning_budget`), at most " + f"{SEARCHES} searches in all."
             if report["emulated"] else " as planned (not emulated)."),
            f"Latency budget: {_latency_text(report)}; `priced` is the planner's price (`dwn_mcu.latency`). "
            f"Each family's chosen model is {rule(report.get('latency_budget'))}:", ""]
    head += [f"{note}." for note in report["skipped_families"]] + ([""] if report["skipped_families"] else [])
    if report.get("dwn_engine") == "ray":
        head += ["DWN candidates: the search engine's trials (`--engine ray`: Optuna's multi-objective sampler, "
                 "trials as Ray tasks), chosen by the same rule.", ""]
    sk = [f"- {e['family']} at {row['budget']} B: the C computes {100 * e['test_accuracy']:.2f}%, scikit-learn's "
          f"own predict {100 * e['sklearn_test_accuracy']:.2f}% (selected by what the C computes)"
          for row in report["rows"] for e in row["entries"] if "sklearn_test_accuracy" in e
          and e["sklearn_test_accuracy"] != e["test_accuracy"]]
    sk += _search_lines(report)
    sk += [f"- {u['family']} at {row['budget']} B: no model fits (its search: {u['reason']})"
           for row in report["rows"] for u in row.get("unfitted", ())]
    sk += [f"- {e['family']} at {row['budget']} B: also proven on {', '.join(e['proofs'])} (every test row)"
           for row in report["rows"] for e in row["entries"] if e.get("proofs")]
    plots = [f"![accuracy vs latency, {b_} B]({latency_plot_name(b_)})" for b_ in report["budgets"]] \
        if report["emulated"] else []
    return "\n".join(head + leader_lines(report) + [""] + table_lines(report) + [""] + (sk + [""] if sk else [])
                     + ["## Verdict", ""] +
                     verdict_lines(report) + ["", "![accuracy vs flash](accuracy_vs_flash.png)", ""] +
                     [p + "\n" for p in plots])


def _search_lines(report: dict) -> list:
    """One line per family and budget searched more than once or still measured over the latency budget."""
    unit, lat, out = report.get("latency_unit", "cycles"), report.get("latency_budget"), []
    for row in report["rows"]:
        for e in row["entries"]:
            over, n = e.get("over_latency_budget"), e.get("searches", 1)
            if n == 1 and not over:
                continue
            text = f"- {e['family']} at {row['budget']} B: searched {'once' if n == 1 else f'{n} times'}"
            if lat is not None:
                text += f", the last priced to {e['latency_planning_budget']:,} {unit}"
                median = e["emulator"]["cycles"]["median"]
                text += (f"; measured {median:,.0f}, still over the {lat:,} budget" if over
                         else f"; measured {median:,.0f}, within the {lat:,} budget")
            reason = e.get("not_searched_again")
            out.append(text + (f" (not searched again: {reason})" if reason else ""))
    return out


def _measured(report: dict) -> str:
    if report.get("latency_unit", "cycles") == "cycles":
        return "cycles are exact (simavr)"
    return "latency is instructions executed, counted by QEMU (not cycles)"


def _latency_text(report: dict) -> str:
    lat = report.get("latency_budget")
    return "none" if lat is None else f"{lat:,} {report.get('latency_unit', 'cycles')} per inference (priced)"


def _plot(report: dict) -> bytes:
    fig, ax = new_figure()
    for family in report.get("families", ("DWN", "XGBoost")):
        color = COLORS.get(family, "tab:gray")
        pts = [c for c in report["candidates"] if c["family"] == family]
        ax.scatter([c["flash"] for c in pts], [c["val_accuracy"] for c in pts], s=10, alpha=0.35, color=color,
                   label=f"{family} candidates (planned flash, validation accuracy)")
        chosen = [(e.get("emulator", {}).get("flash", e["planned_flash"]), e["test_accuracy"])
                  for row in report["rows"] for e in row["entries"] if e["family"] == family]
        ax.scatter([c[0] for c in chosen], [c[1] for c in chosen], s=90, marker="*", color=color,
                   edgecolor="black", label=f"{family} chosen (measured flash, test accuracy)")
    for budget in report["budgets"]:
        ax.axvline(budget, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("model flash (bytes)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{report['dataset']} on {report['board']['name']}")
    ax.legend(fontsize=7, loc="lower right")
    return png_bytes(fig)


def _write(report: dict, out: Path, force: bool) -> None:
    """Everything written at once, atomically (`compiler.write.write_tree`: a complete folder moved into
    place; an existing `out` is replaced only then, and only when `compare` wrote it or it is empty)."""
    files = {"report.json": json.dumps(report, indent=1, default=_json_default) + "\n",
             "report.md": _markdown(report), "accuracy_vs_flash.png": _plot(report)}
    if report.get("emulated"):
        files.update({latency_plot_name(b): latency_plot(report, b) for b in report["budgets"]})
    write_tree(out, files, force, REPORT_MARKER, allow_empty=True)


def latency_plot_name(budget: int) -> str:
    return f"accuracy_vs_latency_{budget}.png"


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    raise TypeError(f"cannot write {type(v).__name__} to JSON")
