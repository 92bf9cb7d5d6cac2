"""One trial, as a pure function of its spec and the rows: train the family's model with the trial's
parameters and seed, price it with the board's planner at the search's budgets, score it on the
validation rows. Runs inside a Ray worker (`engine`), or in-process (tests); imports nothing of Ray.

A trial returns (metrics, model bytes): metrics are `val_accuracy`, `flash`, `ram`, `latency` (None where
the architecture's latency is not calibrated), `fits` and `status` ("ok", or "over budget" when the
shape's estimate did not fit, so nothing was trained); the bytes are the model file (a `.dwn`, or
XGBoost's booster as JSON) of a trained model, else None. A trial that raises is recorded by the engine
as failed, with its error."""

from __future__ import annotations

import numpy as np

from ..compiler.budget import Budget


def run_trial(spec: dict, data: dict) -> tuple:
    """The trial `spec` (family, params, seed, board, budgets, epochs) on `data` (X_train, y_train, X_val,
    y_val, num_classes; optionally `quantization`, an `integer_inputs.Quantization`: each family is priced
    as the integer-input model the firmware reads, and kept as trained)."""
    budget = Budget(spec["flash_budget"], spec["ram_budget"], spec.get("latency_budget"))
    if spec["family"] == "dwn":
        return _dwn(spec, data, budget)
    if spec["family"] == "xgboost":
        return _xgb(spec, data, budget)
    raise ValueError(f"unknown family {spec['family']!r}")


def dwn_shape(params: dict, num_classes: int):
    """The DWN shape a trial's parameters describe: the last layer `luts_per_class` LUTs per class, a
    first layer of twice as many in a two-layer model."""
    from ..budget_search import DWNShape

    w = int(params["luts_per_class"]) * num_classes
    luts = (2 * w, w) if int(params["layers"]) == 2 else (w,)
    return DWNShape(int(params["lut_inputs"]), luts, int(params["bits"]))


def _dwn(spec: dict, data: dict, budget: Budget) -> tuple:
    from ..budget_search import THRESHOLD_GRID, _priced, _train, estimate
    from ..model_file import to_bytes

    shape = dwn_shape(spec["params"], data["num_classes"])
    q = data.get("quantization")  # priced as the integer-input model the firmware will be, if any
    _, flash, ram, fits = estimate(shape, data["X_train"].shape[1], data["num_classes"], spec["board"],
                                   budget.flash, budget.ram, THRESHOLD_GRID, budget.latency,
                                   q.input_type if q else "float32")
    if not fits:  # priced before training: a shape over budget costs no training
        return _metrics(float("nan"), flash, ram, None, False, "over budget"), None
    kwargs = {"num_threads": 1, "threshold_grid": THRESHOLD_GRID, "lr": float(spec["params"]["lr"])}
    model = _train(shape, data["X_train"], data["y_train"], data["X_val"], data["y_val"], spec["epochs"],
                   spec["patience"], spec["seed"], kwargs)
    program, latency, fits = _priced(q.model(model) if q else model, spec["board"], budget)
    acc = float(np.mean(model.predict(data["X_val"]) == data["y_val"]))  # the optimizer is exact
    if q is None:  # the optimized model; an integer-input one is kept as trained (its float twin)
        model = program.model
    model.metadata.update(search_trial=int(spec["number"]), board=spec["board"], layout=program.plan.layout)
    return _metrics(acc, program.plan.model_flash, program.plan.model_ram, latency, fits, "ok"), to_bytes(model)


def _xgb(spec: dict, data: dict, budget: Budget) -> tuple:
    import xgboost as xgb

    from ..baselines.xgb_export import parse_booster
    from ..baselines.xgb_plan import footprint
    from ..baselines.xgb_train import _classes, _objective, firmware_tables
    from ..compiler import get_board
    from ..latency import can_price, xgb_family, xgb_latency

    p, board, classes = spec["params"], get_board(spec["board"]), data["num_classes"]
    params = {**_objective(classes), "max_depth": int(p["depth"]), "eta": float(p["learning_rate"]),
              "max_bin": int(p["max_bin"]), "tree_method": "hist", "seed": spec["seed"], "nthread": 1,
              "verbosity": 0}
    booster = xgb.train(params, xgb.DMatrix(data["X_train"], label=data["y_train"]),
                        num_boost_round=int(p["rounds"]))
    tables = firmware_tables(parse_booster(booster), data.get("quantization"))  # as compare's search prices
    plan = footprint(tables, board)
    latency = xgb_latency(tables, board.arch) if can_price(board.arch, xgb_family(tables)) else None
    fits = plan.model_flash <= budget.flash and plan.model_ram <= budget.ram and \
        (budget.latency is None or (latency is not None and latency <= budget.latency))
    pred = _classes(booster, xgb.DMatrix(data["X_val"]), classes, int(p["rounds"]))
    acc = float(np.mean(pred == data["y_val"]))
    return _metrics(acc, plan.model_flash, plan.model_ram, latency, fits, "ok"), bytes(booster.save_raw("json"))


def _metrics(acc, flash, ram, latency, fits, status) -> dict:
    return {"val_accuracy": acc, "flash": int(flash), "ram": int(ram),
            "latency": None if latency is None else int(latency), "fits": bool(fits), "status": status}
