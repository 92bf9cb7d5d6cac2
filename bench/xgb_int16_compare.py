"""The same trained XGBoost models built as `compare` built them before (float32 firmware inputs) and as it
builds them now (int16 inputs, `baselines.xgb_integer.integer_tables`), on the Arduino Nano (ATmega328P,
simavr cycles).

Per dataset: compare's rows (the int16 scaling fitted on the training rows minus compare's stratified 20%
validation split, seed 0), one XGBoost search (`train_xgboost`, trained on the float32 values the integers
stand for, priced as the float model in the table layout under the flash budget), then the chosen booster
built in both layouts twice: the float tables, run on the float rows, and their int16 form, run on the
int16 rows. Per build: the model's measured flash (the linked ELF's share) and the planned flash, the
median cycles over the test rows and the priced latency, and agreement with xgboost's own predictions on
the float rows (class and margins, bit for bit) on every test row.

    DWN_MCU_DATA=/work/shared/datasets PYTHONPATH=$PWD nice python bench/xgb_int16_compare.py \
        [--datasets phoneme segment] [--budget 2048] [--rows 200] [--trials 8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dwn_mcu.baselines.xgb_export import pack, render_sources  # noqa: E402
from dwn_mcu.baselines.xgb_integer import integer_tables  # noqa: E402
from dwn_mcu.baselines.xgb_plan import footprint, planned_flash  # noqa: E402
from dwn_mcu.baselines.xgb_target import verify_on_target  # noqa: E402
from dwn_mcu.baselines.xgb_train import train_xgboost  # noqa: E402
from dwn_mcu.compiler import Budget, get_board  # noqa: E402
from dwn_mcu.budget_search import budgets as model_budgets  # noqa: E402
from dwn_mcu.data import load_data, stratified_split  # noqa: E402
from dwn_mcu.integer_inputs import Quantization  # noqa: E402
from dwn_mcu.latency import xgb_latency  # noqa: E402


def xgboost_says(booster, F, num_classes):
    import xgboost as xgb

    d = xgb.DMatrix(np.asarray(F, np.float32))
    margins = np.asarray(booster.predict(d, output_margin=True), np.float32).reshape(len(F), -1)
    out = booster.predict(d)
    return ((out > 0.5) if num_classes == 2 else out).astype(np.int64), margins


def build(tables, board, layout: str, rows, expected) -> dict:
    r = verify_on_target(tables, "avr", render_sources(tables, "xm", layout), "xm", rows, expected=expected)
    return {"flash": r.model_size.flash, "planned": footprint(tables, board, layout).model_flash,
            "cycles": r.latency_summary()["median"], "priced": xgb_latency(tables, "avr", layout),
            "agree": f"{r.agree}/{r.vectors}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["phoneme", "segment"])
    ap.add_argument("--budget", type=int, default=2048)
    ap.add_argument("--rows", type=int, default=200, help="test rows run on the emulator")
    ap.add_argument("--trials", type=int, default=8, help="XGBoost search trials")
    args = ap.parse_args()
    board = get_board("nano")
    print("| dataset | model | inputs | layout | thresholds | flash B | planned B | cycles (median) | priced | agree |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.datasets:
        data = load_data(dataset=name)
        X, y = data.train_split()
        Xt, _ = data.test_split()
        val = stratified_split(y, 0.2, seed=0)
        q = Quantization.fit(X[~val], "int16")
        Xf, Kt = q.features(q.rows(X)), q.rows(Xt)[: args.rows]
        limits = Budget(args.budget, model_budgets(board)[1])
        r = train_xgboost(Xf[~val], y[~val], Xf[val], y[val], data.num_classes, args.budget,
                          size_fn=planned_flash(board, limits), max_trials=args.trials, seed=0)
        expected = xgboost_says(r.booster, q.features(Kt), data.num_classes)
        tables = pack(r.model)
        for label, t, rows in (("float32", tables, q.features(Kt)), ("int16", integer_tables(tables, q), Kt)):
            for layout in ("table", "inline"):
                m = build(t, board, layout, rows, expected)
                print(f"| {name} | {r.best.shape()} | {label} | {layout} | {t.thr_keys.size} | {m['flash']:,} | "
                      f"{m['planned']:,} | {m['cycles']:,.0f} | {m['priced']:,} | {m['agree']} |", flush=True)


if __name__ == "__main__":
    main()
