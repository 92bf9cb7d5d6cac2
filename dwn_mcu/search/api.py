"""The search as one call: the rows split as `train --board` splits them, the engine run into DIR, then
the front written (pareto.csv, pareto.png, the front's model files in DIR/front)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_write import write_file, write_tree
from .engine import SearchConfig, search
from .pareto import front, front_csv, plot
from .records import data_digest

FRONT_MARKER = "front.txt"


def prepare_data(dataset, seed: int = 0) -> dict:
    """The search's rows: the dataset's training split, a stratified fifth of it held out for validation
    (`train --board`'s split); the test split is not read."""
    from ..data import stratified_split

    X, y = dataset.train_split()
    val = stratified_split(y, 0.2, seed=seed)
    data = {"X_train": np.ascontiguousarray(X[~val], np.float32), "y_train": np.asarray(y[~val], np.int64),
            "X_val": np.ascontiguousarray(X[val], np.float32), "y_val": np.asarray(y[val], np.int64),
            "num_classes": int(dataset.num_classes)}
    data["digest"] = data_digest(data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                                 np.asarray([data["num_classes"]]))
    return data


def write_front(out: Path, records: list, config: SearchConfig, unit: str) -> list:
    """pareto.csv, pareto.png and DIR/front (the front's model files, copied from DIR/models)."""
    best = front(records)
    write_file(out / "pareto.csv", front_csv(records))
    write_file(out / "pareto.png", plot(records, config.flash_budget, unit))
    files = {r["model"]: (out / "models" / r["model"]).read_bytes() for r in best if r["model"]}
    files[FRONT_MARKER] = "The search's accuracy-flash-latency front (pareto.csv): a .dwn per DWN, XGBoost " \
                          "boosters as JSON. Written by dwn-mcu search.\n"
    write_tree(out / "front", files, FRONT_MARKER, force=True, allow_empty=True)
    return best


def run(dataset, config: SearchConfig, out, *, resume: bool = False, force: bool = False, progress=None,
        trial_fn=None) -> tuple:
    """(every record, the front): the search of `dataset` under `config` into `out`."""
    from ..compiler import get_board
    from ..latency import unit
    from .trial import run_trial

    out = Path(out)
    data = prepare_data(dataset, config.seed)
    records = search(data, config, out, dataset.name, resume=resume, force=force, progress=progress,
                     trial_fn=trial_fn or run_trial)
    return records, write_front(out, records, config, unit(get_board(config.board).arch))
