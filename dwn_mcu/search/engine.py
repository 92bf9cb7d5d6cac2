"""The search loop: Optuna asks, Ray runs, Optuna is told; records and models written as trials finish.

Determinism (docs/search.md): per family one study with a seeded multi-objective TPE sampler (maximise
validation accuracy, minimise flash and priced latency; the budgets as constraints). The search goes
in rounds; each round asks every family for `batch` trials (fewer at the end) and tells each study its
trials in trial-number order once the round is whole. `IN_FLIGHT` rounds run at once: round k + 2 is
asked right after round k is told, while round k + 1 still runs, so a worker that is done with its share
of a round starts on the next one instead of waiting for the round's longest trial. The order of asks
and tells is fixed (ask 0, ask 1, tell 0, ask 2, tell 1, ...), nothing a worker does reaches the sampler
out of that order (TPE ignores asked, untold trials), and each trial's seed comes from its parameters
(`space.trial_seed`), so the trials and their metrics are the same with 1 worker or 20. A --time-limit
stops the asking of new rounds, and a trial that a worker takes after it is not run (`_task`): running
trials finish, none starts late, as in the in-process search; the ones not run are not recorded (a
--resume runs them) and the search ends with their round.

Faults: a trial that raises is recorded as failed, with its error (a retry would fail the same way);
a worker that dies (killed, out of memory) is retried by Ray up to `max_retries` times, then recorded as
failed. Resume: the finished trials of DIR/trials.csv are replayed to the sampler (asked again, which
must give the recorded parameters, and told their recorded metrics), so only the missing ones run.
Ctrl-C: the running trials are cancelled, the finished ones are already in trials.csv, Ray is shut down,
then KeyboardInterrupt."""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import records as rec
from .cluster import SearchError, connected
from .space import FAMILIES, describe, first_dwn_trials, suggest, trial_seed
from .trial import run_trial

IN_FLIGHT = 2  # rounds running at once (part of the manifest: it decides what the sampler has seen)


@dataclass
class SearchConfig:
    board: str
    flash_budget: int
    ram_budget: int
    latency_budget: int | None = None
    families: tuple = FAMILIES
    trials: int = 24  # per family
    batch: int = 4  # trials per family per round: the determinism unit, not the worker count
    seed: int = 0
    epochs: int = 40
    patience: int = 15
    time_limit: float | None = None
    address: str | None = None
    num_cpus: int | None = None  # a local instance's CPUs (default: the machine's)
    max_retries: int = 2  # a dead worker's trial is run again this many times
    trial_memory: int | None = None  # bytes of data (heap) a worker may hold while it runs a trial


@dataclass
class SearchState:
    out: Path
    records: dict = field(default_factory=dict)  # number -> record
    next_number: int = 0
    stop: bool = False  # set by Ctrl-C
    unstarted: set = field(default_factory=set)  # trials a worker took after the time limit (not run)


def manifest(config: SearchConfig, data: dict, dataset: str) -> dict:
    """What makes two searches the same search (the trial count aside)."""
    return {"format": "dwn-mcu search", "dataset": dataset, "data_sha256": data["digest"], "board": config.board,
            "flash_budget": config.flash_budget, "ram_budget": config.ram_budget,
            "latency_budget": config.latency_budget, "families": list(config.families), "trials": config.trials,
            "batch": config.batch, "rounds_in_flight": IN_FLIGHT, "seed": config.seed, "epochs": config.epochs,
            "patience": config.patience, "space": describe()}


def _studies(config: SearchConfig, data: dict) -> dict:
    """One seeded study per family; the DWN study's first round is the in-process search's first shapes
    (`space.first_dwn_trials`), enqueued, so a resumed search asks them again in the same order."""
    import optuna

    from ..compiler import get_board

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = {}
    for i, family in enumerate(config.families):
        sampler = optuna.samplers.TPESampler(seed=config.seed * 1009 + i, n_startup_trials=config.batch)
        out[family] = optuna.create_study(directions=["maximize", "minimize", "minimize"], sampler=sampler)
    if "dwn" in out:
        q = data.get("quantization")
        for params in first_dwn_trials(get_board(config.board), config.flash_budget, config.ram_budget,
                                       config.latency_budget, data["X_train"].shape[1], data["num_classes"],
                                       min(config.batch, config.trials), q.input_type if q else "float32"):
            out["dwn"].enqueue_trial(params)
    return out


def _spec(config: SearchConfig, family: str, number: int, params: dict) -> dict:
    return {"family": family, "number": number, "params": params, "seed": trial_seed(family, params, config.seed),
            "board": config.board, "flash_budget": config.flash_budget, "ram_budget": config.ram_budget,
            "latency_budget": config.latency_budget, "epochs": config.epochs, "patience": config.patience}


def _ask_round(studies: dict, config: SearchConfig, asked: dict, state: SearchState) -> list:
    """One round's [family, optuna trial, spec], in trial-number order (numbers run over the families in
    asking order); a trial already recorded must come back with its recorded parameters."""
    out = []
    for family, study in studies.items():
        for _ in range(min(config.batch, config.trials - asked[family])):
            asked[family] += 1
            trial, number = study.ask(), state.next_number
            state.next_number += 1
            spec = _spec(config, family, number, suggest(trial, family))
            old = state.records.get(number)
            if old is not None and (old["family"], old["params"]) != (family, spec["params"]):
                raise rec.ResumeError(f"{state.out}: trial {number} was {old['family']} {old['params']}, the "
                                      f"sampler now asks {family} {spec['params']}; not the same search")
            out.append((family, trial, spec))
    return out


def _values(r: dict) -> tuple:
    """What the sampler is told: (accuracy, flash, latency); an untrained trial counts as accuracy 0."""
    acc = 0.0 if math.isnan(r["val_accuracy"]) else r["val_accuracy"]
    return (acc, float(r["flash"]), float(r["latency"] or 0))


def _constraint(r: dict, config: SearchConfig) -> list:
    """Optuna's constraints (feasible when every value is <= 0): over flash, RAM, latency."""
    lat = 0.0 if config.latency_budget is None or r["latency"] is None else r["latency"] - config.latency_budget
    return [float(r["flash"] - config.flash_budget), float(r["ram"] - config.ram_budget), float(lat)]


def _tell(studies: dict, round_: list, state: SearchState, config: SearchConfig) -> None:
    import optuna

    for family, trial, spec in round_:  # already in trial-number order
        if spec["number"] in state.unstarted:  # the search ends with this round: nothing to tell
            continue
        r = state.records[spec["number"]]
        if r["status"] == "failed" or r["flash"] is None:
            studies[family].tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        for name, value in zip(("flash", "ram", "latency"), _constraint(r, config)):
            trial.set_constraint(name, value)  # Optuna's rule: feasible when every value is <= 0
        studies[family].tell(trial, list(_values(r)))


def _task(trial_fn: Callable, spec: dict, data: dict, memory: int | None = None,
          deadline: float | None = None) -> tuple | None:
    """A trial inside a Ray worker: (metrics, model bytes, worker, (seconds, CPU seconds)); an exception is
    the trial's failure, recorded with its message (not retried: the same parameters fail the same way). `memory`:
    the worker's data-segment limit while the trial runs (RLIMIT_DATA: an allocation past it is a
    MemoryError, so a trial that exceeds it fails alone instead of taking the node's memory). None when
    the task starts after `deadline` (wall-clock seconds since the epoch: the search's --time-limit), so
    that no trial starts after the limit, as in the in-process search."""
    import os
    import resource

    import ray

    if deadline is not None and time.time() > deadline:
        return None
    ctx = ray.get_runtime_context()
    worker = f"{ctx.get_node_id()[:8]}/{os.getpid()}"
    t0, c0 = time.monotonic(), time.process_time()
    old = resource.getrlimit(resource.RLIMIT_DATA)
    try:
        if memory:
            resource.setrlimit(resource.RLIMIT_DATA, (memory, old[1]))
        metrics, model = trial_fn(spec, data)
    except Exception as exc:  # the trial's own failure: any error of training or pricing, MemoryError
        metrics, model = _failed(f"{type(exc).__name__}: {exc}"), None
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, old)
    return metrics, model, worker, (time.monotonic() - t0, time.process_time() - c0)


def _failed(error: str) -> dict:
    return {"val_accuracy": float("nan"), "flash": None, "ram": None, "latency": None, "fits": False,
            "status": "failed", "error": " ".join(error.split())[:500]}


def _record(spec: dict, metrics: dict, worker: str, seconds: tuple, model: bytes | None) -> dict:
    ext = ".dwn" if spec["family"] == "dwn" else ".xgb.json"
    return {"number": spec["number"], "family": spec["family"], "params": spec["params"], "seed": spec["seed"],
            "error": "", **metrics, "seconds": round(seconds[0], 2),
            "cpu_seconds": round(seconds[1], 2), "worker": worker,
            "model": f"trial-{spec['number']:04d}{ext}" if model else ""}


def _finish(state: SearchState, spec: dict, result: tuple, progress, total: int) -> None:
    """A finished trial: its model file, then trials.csv with it (so a listed model always exists)."""
    metrics, model, worker, seconds = result
    r = _record(spec, metrics, worker, seconds, model)
    if model:
        rec.write_file(state.out / "models" / r["model"], model)
    state.records[r["number"]] = r
    rec.write_trials(state.out, list(state.records.values()))
    if progress:
        progress(_line(r, len(state.records), total))


def _line(r: dict, done: int, total: int) -> str:
    params = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["params"].items())
    if r["status"] == "failed":
        what = f"failed: {r['error']}"
    else:
        acc = "-" if math.isnan(r["val_accuracy"]) else f"{r['val_accuracy']:.4f}"
        lat = "" if r["latency"] is None else f", {r['latency']} latency"
        what = f"val {acc}, {r['flash']} B flash, {r['ram']} B RAM{lat}, " + \
            ("fits" if r["fits"] else r["status"] if r["status"] != "ok" else "over budget")
    return f"trial {r['number']} {r['family']} ({params}): {what}; {done}/{total} done, " \
           f"{r['seconds']:.1f} s on {r['worker']}"


def _submit(round_: list, state: SearchState, pending: dict, remote, data_ref, trial_fn, memory,
            deadline) -> None:
    """Hand the round's unrecorded trials to Ray (a resumed search skips the recorded ones)."""
    for _, _, spec in round_:
        if spec["number"] not in state.records:
            pending[remote.remote(trial_fn, spec, data_ref, memory, deadline)] = spec


def _wait_for(round_: list, state: SearchState, pending: dict, progress, total: int) -> None:
    """Record trials as they finish (of any round in flight) until every trial of `round_` is recorded.
    Ctrl-C (state.stop): cancel every running trial and raise KeyboardInterrupt."""
    import ray

    while any(spec["number"] not in state.records and spec["number"] not in state.unstarted
              for _, _, spec in round_):
        if state.stop:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise KeyboardInterrupt
        done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
        for ref in done:
            spec = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as exc:  # the worker died max_retries + 1 times (killed, out of memory), or
                result = (_failed(_lost(exc)), None, "", (0.0, 0.0))  # the task could not even start there
            if result is None:  # past the time limit when a worker took it: not run, not recorded
                state.unstarted.add(spec["number"])
            else:
                _finish(state, spec, result, progress, total)


def _lost(exc: Exception) -> str:
    import ray.exceptions as rex

    died = (rex.WorkerCrashedError, rex.NodeDiedError, rex.OutOfMemoryError, rex.TaskCancelledError)
    what = "worker died" if isinstance(exc, died) else "task error"
    return f"{what}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"


class _StopOnSigint:
    """Ctrl-C sets `state.stop` (the loop cancels the running trials and raises KeyboardInterrupt in
    ordinary code, after the records are written); elsewhere than the main thread nothing changes."""

    def __init__(self, state: SearchState):
        self.state, self.previous = state, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, lambda *_: setattr(self.state, "stop", True))
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def check_folder(out: Path, manifest_: dict, resume: bool, force: bool) -> dict:
    """Before any work: the records to keep. On --resume those of DIR, whose manifest must match; else
    none, and DIR must be writable (missing, empty, or with --force one a search wrote)."""
    from ..outputs import check_output_folder

    if not resume:
        check_output_folder(out, force, rec.MANIFEST, allow_empty=True)
        return {}
    if not out.is_dir():
        raise rec.ResumeError(f"{out}: no such search folder to resume")
    rec.check_manifest(out, manifest_)
    records = {r["number"]: r for r in rec.read_trials(out)}
    for family in manifest_["families"]:
        count = sum(r["family"] == family for r in records.values())
        if count > manifest_["trials"]:
            raise rec.ResumeError(f"{out}: holds {count} {family} trials; resume with --trials {count} or more")
    return records


def start_folder(out: Path, manifest_: dict, resume: bool, force: bool) -> None:
    """DIR with the manifest: rewritten in place on --resume (the trial count may have grown), else a new
    folder holding only the manifest (an old one replaced whole, atomically)."""
    from ..atomic_write import write_tree

    if resume:
        rec.write_file(out / rec.MANIFEST, rec.manifest_bytes(manifest_))
    else:
        write_tree(out, {rec.MANIFEST: rec.manifest_bytes(manifest_)}, rec.MANIFEST, force, allow_empty=True)


def search(data: dict, config: SearchConfig, out, dataset: str, *, resume: bool = False, force: bool = False,
           progress: Callable[[str], None] | None = None, trial_fn: Callable = run_trial) -> list:
    """Run (or resume) the search into `out`; returns every trial's record, by trial number. `data`:
    X_train, y_train, X_val, y_val, num_classes, digest (`records.data_digest`). `trial_fn(spec, data)`:
    one trial (`trial.run_trial`; tests pass their own, e.g. one whose worker dies)."""
    out = Path(out)
    if config.batch < 1 or config.trials < 1:
        raise SearchError("--trials and the batch size must be at least 1")
    manifest_ = manifest(config, data, dataset)
    state = SearchState(out, check_folder(out, manifest_, resume, force))
    studies, asked = _studies(config, data), {f: 0 for f in config.families}
    total, start = config.trials * len(config.families), time.monotonic()
    deadline = None if config.time_limit is None else time.time() + config.time_limit
    with connected(config.address, config.num_cpus), _StopOnSigint(state):
        import ray

        start_folder(out, manifest_, resume, force)  # once Ray is up: a refused cluster leaves nothing
        remote = ray.remote(num_cpus=1, max_retries=config.max_retries)(_task)
        data_ref = ray.put(data)
        in_flight, pending = [], {}  # rounds asked and not yet told, oldest first; Ray ref -> spec
        while True:
            while len(in_flight) < IN_FLIGHT and sum(asked.values()) < total and not (
                    config.time_limit is not None and state.next_number and time.monotonic() - start > config.time_limit):
                in_flight.append(_ask_round(studies, config, asked, state))
                _submit(in_flight[-1], state, pending, remote, data_ref, trial_fn, config.trial_memory, deadline)
            if not in_flight:
                break
            _wait_for(in_flight[0], state, pending, progress, total)
            _tell(studies, in_flight.pop(0), state, config)
    return [state.records[n] for n in sorted(state.records)]
