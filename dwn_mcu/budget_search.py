"""The most accurate DWN that fits a board's (or a budget's) flash and RAM: a seeded, bounded search
over shapes (LUT inputs n, LUTs per layer, layers, thermometer bits per feature).

Shapes come in families (n, bits per feature, one or two layers). For each family the largest width
whose estimate fits is found by bisection, and the family is tried at that width and at halves of it:
the biggest model a budget allows is not always the best (small datasets overfit), but a family's
largest fit is the likeliest winner, so every family's largest is trained before any family's half.
Where those leave trials to spare (a tight latency budget fits a few LUTs of a few families), the
families of fewer LUT inputs (FILL_LUT_INPUTS) follow: cheaper LUTs, so more of them within the cycles.
Every trial takes at least MIN_STEPS optimizer steps (`schedule`).
An estimate is the planner's size (`dwn_mcu.compiler.make_plan`) of a random model of the shape with
the thresholds no LUT reads removed, in the fastest layout that fits. Training uses thresholds on the
float16 grid (stored in 16 bits where that pays). Every trained model goes through the exact optimizer
(`dwn_mcu.optimize`, what `build` runs) and is priced again, exactly as it will be built, so a model is
kept only if it fits. A latency budget (`latency_budget`, the planner's price: `dwn_mcu.latency`) rejects
shapes and models priced over it. Training stops at the trial or time limit; of the models that fit, the
chosen one is the fastest within one standard error of the most accurate, or under a latency budget the
most accurate (`dwn_mcu.selection`, the rule every family's search follows); both are in the result.
(The planner's figures are estimates: `dwn_mcu.compare` checks the built ELF and searches again if needed.)
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .compiler import BudgetError, get_board
from .compiler.budget import Budget, budget_for
from .compiler.lower import _fits, lower
from .compiler.lower import choose as choose_form
from .compiler.program import pack_program
from .errors import DWNError
from .optimize import drop_unused_thresholds, input_count_forms, optimize
from .selection import choose, most_accurate
from .synthetic import random_model

DEFAULT_LUT_INPUTS = (6, 4)
DEFAULT_BITS = (64, 32)
DEFAULT_LAYERS = (1, 2)
FILL_LUT_INPUTS = (3, 2)  # tried after the default families when those leave trials to spare
MIN_STEPS = 1000  # Adam steps a trial takes at least: what the default 40 epochs give phoneme
SIZES_PER_FAMILY = 4  # a family's largest fitting width, then 1/2, 1/4, 1/8 of it
MAX_LUTS = 4096  # widest last layer tried
THRESHOLD_GRID = "float16"


@dataclass(frozen=True)
class DWNShape:
    lut_inputs: int
    luts: tuple  # LUTs per layer; the last a multiple of the classes
    bits: int  # thermometer bits per feature

    def __str__(self) -> str:
        return f"{'-'.join(map(str, self.luts))} LUTs x n={self.lut_inputs}, {self.bits} bits/feature"


@dataclass(frozen=True)
class DWNCandidate:
    shape: str
    lut_inputs: int
    luts: tuple
    bits: int
    layout: str | None
    flash: int  # planned model flash (the estimate before training when not trained)
    ram: int
    val_accuracy: float  # NaN when not trained
    trained: bool
    fits: bool
    seconds: float
    latency: int | None = None  # priced cycles (instructions on QEMU targets); None: not calibrated


@dataclass(eq=False)
class DWNSearchResult:
    best: DWNCandidate
    model: object  # FrozenDWN, optimized for the board in `layout` (taking the search's integer inputs, if any)
    layout: str
    candidates: list = field(default_factory=list)
    trials: int = 0
    seconds: float = 0.0
    flash_budget: int = 0
    ram_budget: int = 0
    latency_budget: int | None = None
    most_accurate: DWNCandidate | None = None  # `best` is it, or (no latency budget) the fastest within one SE
    trained: object = None  # the chosen float model as trained: an incumbent at larger budgets

    def table(self) -> list:
        return [asdict(c) for c in self.candidates]

    @property
    def shape(self) -> DWNShape:
        """The chosen model's shape as trained (before the optimizer)."""
        return DWNShape(self.best.lut_inputs, self.best.luts, self.best.bits)


def budgets(board, flash_budget: int | None = None, ram_budget: int | None = None) -> tuple:
    """The model's share: the given budgets, or what the board leaves beside its sketch."""
    budget = budget_for(get_board(board), flash_budget, ram_budget)
    return budget.flash, budget.ram


def _unit(board) -> str:
    """What the board's latency price counts: cycles, or instructions on the QEMU-measured targets."""
    from .latency import unit

    return unit(board.arch)


def _latency(program) -> int | None:
    """The program's priced latency; None where its architecture is not calibrated."""
    from .latency import can_price, dwn_family, program_latency

    family = dwn_family(program.model.input_type)
    return program_latency(program) if can_price(program.plan.board.arch, family) else None


def _within(program, budget: Budget) -> tuple:
    """(latency, fits): the program's price, and whether it fits the budget's flash, RAM and latency."""
    latency = _latency(program)
    in_time = budget.latency is None or (latency is not None and latency <= budget.latency)
    return latency, _fits(program.plan, budget) and in_time


def _priced(model, board, budget: Budget) -> tuple:
    """(program, latency, fits) of a trained model: `build`'s own lowering under `budget`."""
    program = lower(model, get_board(board), budget, check_budget=False)
    return (program, *_within(program, budget))


def price(model, board, flash_budget: int, ram_budget: int, latency_budget: int | None = None) -> tuple:
    """(optimized model, layout, flash, ram, fits): the model after the exact optimizer, in the fastest
    layout whose model share fits the budgets by the planner; else the smallest layout, not fitting
    (`fits` also holds the priced latency to `latency_budget`, when given).
    This is `build`'s own lowering (`dwn_mcu.compiler.lower.lower`) under that budget."""
    program, _, fits = _priced(model, board, Budget(flash_budget, ram_budget, latency_budget))
    plan = program.plan
    return program.model, plan.layout, plan.model_flash, plan.model_ram, fits


def _price_forms(mixed, board, flash_budget, ram_budget, latency_budget=None):
    """`price` of a model that needs no exact passes (a shape's random stand-in): forms and layout only,
    and the priced latency."""
    budget = Budget(flash_budget, ram_budget, latency_budget)
    form, plan = choose_form(input_count_forms(mixed), board, budget)
    latency, fits = _within(pack_program(form, plan, budget=budget), budget)
    return form, plan.layout, plan.model_flash, plan.model_ram, fits, latency


def _stand_in(shape: DWNShape, num_features: int, num_classes: int, threshold_grid: str | None,
              input_type: str = "float32"):
    """A random model of `shape` (thresholds on the float16 grid when training will put them there) without
    the thresholds it does not read: what a shape is priced as before training. `input_type` other than
    float32: the same thresholds as integers of that type (the model an integer-input search builds)."""
    model = random_model(seed=0, num_features=num_features, bits_per_feature=shape.bits, luts=shape.luts,
                         n=shape.lut_inputs, num_classes=num_classes)
    if threshold_grid == "float16":  # distinct float16 values, increasing within each feature
        grid = np.linspace(-1.0, 1.0, shape.bits).astype(np.float16).astype(np.float32)
        model = dataclasses.replace(model, thresholds=np.tile(grid, num_features)).validate()
    if input_type != "float32":  # the type's range spread over the thresholds': every one stays distinct
        from .integer_inputs import Quantization

        ends = [(t.min() - 1.0, t.max() + 1.0) if t.size else (0.0, 1.0) for t in model.feature_thresholds]
        model = Quantization.fit(np.asarray(ends).T, input_type).model(model)
    return drop_unused_thresholds(model)


def estimate(shape: DWNShape, num_features: int, num_classes: int, board, flash_budget: int, ram_budget: int,
             threshold_grid: str | None = THRESHOLD_GRID, latency_budget: int | None = None,
             input_type: str = "float32") -> tuple:
    """(layout, flash, ram, fits) of a shape before training (`_stand_in`). The other passes find next to
    nothing in random tables, so they are skipped here; the trained model is priced exactly."""
    model = _stand_in(shape, num_features, num_classes, threshold_grid, input_type)
    return _price_forms(model, get_board(board), flash_budget, ram_budget, latency_budget)[1:5]


def _shortfall(shape: DWNShape, num_features: int, num_classes: int, board, budget: Budget,
               threshold_grid: str | None, input_type: str = "float32") -> str:
    """What `shape` needs of each limit it misses under `budget` (its fastest fitting layout's figures)."""
    model = _stand_in(shape, num_features, num_classes, threshold_grid, input_type)
    _, _, flash, ram, _, latency = _price_forms(model, board, budget.flash, budget.ram, budget.latency)
    missed = [f"{flash} bytes of flash" if flash > budget.flash else "",
              f"{ram} bytes of RAM" if ram > budget.ram else "",
              f"{latency} {_unit(board)}" if budget.latency is not None and latency is not None
              and latency > budget.latency else ""]
    return " and ".join(m for m in missed if m) or f"{flash} bytes of flash"


def family_shapes(lut_inputs: int, bits: int, layers: int, num_classes: int, fits: Callable) -> list:
    """The family's widths that fit, largest first: the largest found by doubling then bisection over
    multiples of the class count, then its halves (SIZES_PER_FAMILY in all, at least one LUT per class).
    `fits(shape)` says whether a shape's estimate fits."""
    def shape(k):
        w = k * num_classes
        return DWNShape(lut_inputs, (2 * w, w) if layers == 2 else (w,), bits)

    if not fits(shape(1)):
        return []
    lo, hi, kmax = 1, 2, max(1, MAX_LUTS // num_classes)
    while hi <= kmax and fits(shape(hi)):  # lo fits, hi does not (or is past the cap)
        lo, hi = hi, 2 * hi
    hi = min(hi, kmax + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(shape(mid)) else (lo, mid)
    ks = sorted({max(1, lo >> i) for i in range(SIZES_PER_FAMILY)}, reverse=True)
    return [shape(k) for k in ks]


def default_shapes(num_features: int, num_classes: int, board, flash_budget: int, ram_budget: int,
                   lut_inputs=DEFAULT_LUT_INPUTS, bits=DEFAULT_BITS, layers=DEFAULT_LAYERS,
                   threshold_grid: str | None = THRESHOLD_GRID, latency_budget: int | None = None,
                   input_type: str = "float32") -> list:
    """Every family's fitting widths, in training order: rank r (a family's largest, its half, ...)
    of one-layer families, with two-layer families two ranks later (one layer of 30-300 LUTs with a
    learnable mapping is the best accuracy per bit seen on tabular data); families in the order given."""
    board = get_board(board)

    def fits(s):
        return estimate(s, num_features, num_classes, board, flash_budget, ram_budget, threshold_grid,
                        latency_budget, input_type)[3]

    ranked = []
    for order, (depth, n, b) in enumerate(itertools.product(layers, lut_inputs, bits)):
        for rank, s in enumerate(family_shapes(n, b, depth, num_classes, fits)):
            ranked.append((rank + 2 * (depth - 1), order, s))
    return [s for *_, s in sorted(ranked, key=lambda v: v[:2])]


def _order(shapes, F: int, num_classes: int, board, flash_budget: int, ram_budget: int, grid, candidates: list,
           latency_budget: int | None = None, input_type: str = "float32", max_trials: int | None = None):
    """The shapes to train, in order: `default_shapes` (then its FILL_LUT_INPUTS families, where fewer than
    `max_trials` shapes fit), or those of `shapes` whose estimate fits (the others go to `candidates`,
    untrained). BudgetError when none fits."""
    if shapes is None:
        def shapes_of(lut_inputs):
            return default_shapes(F, num_classes, board, flash_budget, ram_budget, lut_inputs=lut_inputs,
                                  threshold_grid=grid, latency_budget=latency_budget, input_type=input_type)

        order = shapes_of(DEFAULT_LUT_INPUTS)
        if max_trials is None or len(order) < max_trials:
            order += [s for s in shapes_of(FILL_LUT_INPUTS) if s not in order]
    else:
        order = []
        for s in shapes:
            layout, flash, ram, fits = estimate(s, F, num_classes, board, flash_budget, ram_budget, grid,
                                                latency_budget, input_type)
            if fits:
                order.append(s)
            else:
                candidates.append(_cand(s, layout, flash, ram, float("nan"), False, False, 0.0))
    if order:
        return order
    if candidates:  # the shapes given, none fitting
        c = min(candidates, key=lambda c: c.flash)
        smallest = DWNShape(c.lut_inputs, c.luts, c.bits)
    else:
        smallest = DWNShape(min(DEFAULT_LUT_INPUTS + FILL_LUT_INPUTS), (num_classes,), min(DEFAULT_BITS))
    need = _shortfall(smallest, F, num_classes, board, Budget(flash_budget, ram_budget, latency_budget), grid,
                      input_type)
    within = "" if latency_budget is None else f" within {latency_budget} {_unit(board)}"
    raise BudgetError(f"no DWN shape fits {flash_budget} bytes of flash and {ram_budget} bytes of RAM{within} on "
                      f"{board.name} (the smallest, {smallest}, needs {need})")


class _Best:
    """The trained models that fit so far; `leader` is the most accurate, `chosen()` the selection rule's
    pick (`dwn_mcu.selection`: the fastest within one standard error of the most accurate; under a latency
    budget, the most accurate).
    `quantization` (an `integer_inputs.Quantization`): each model is priced and kept as the integer-input
    model it becomes (exactly the float model on the features the integers stand for)."""

    def __init__(self, board, budget: Budget, X_val, y_val, candidates: list, quantization=None):
        self.board, self.budget, self.quantization = board, budget, quantization
        self.X_val, self.y_val, self.candidates = np.asarray(X_val, np.float32), np.asarray(y_val), candidates
        self.kept = []  # (candidate, optimized model, layout, float model) of each trained model that fits

    def consider(self, s: DWNShape, trained_model, seconds: float) -> DWNCandidate:
        """Price a float model (as trained, or optimized) as it will be built, on the validation rows."""
        q = self.quantization
        program, latency, fits = _priced(q.model(trained_model) if q else trained_model, self.board, self.budget)
        plan = program.plan
        acc = float(np.mean(trained_model.predict(self.X_val) == self.y_val))  # the optimizer is exact
        cand = _cand(s, plan.layout, plan.model_flash, plan.model_ram, acc, True, fits, seconds, latency)
        self.candidates.append(cand)
        if fits:
            self.kept.append((cand, program.model, plan.layout, trained_model))
        return cand

    def _items(self) -> list:
        return [(c.val_accuracy, c.latency, c.flash) for c, *_ in self.kept]

    @property
    def leader(self) -> DWNCandidate | None:
        return self.kept[most_accurate(self._items())][0] if self.kept else None

    def chosen(self) -> tuple:
        return self.kept[choose(self._items(), len(self.y_val), self.budget.latency)]


def schedule(rows: int, epochs: int, patience: int, batch_size: int) -> tuple:
    """(epochs, patience) of a trial on `rows` training rows: as given, or both times the smallest whole
    factor that makes at least MIN_STEPS optimizer steps. A small training split takes few steps an epoch
    (australian: 441 rows, 4 batches of 128, 120 steps in 30 epochs), and the few-LUT models of a tight
    latency budget stop far from what they can reach: at four stump-sized budgets the floor raised the
    chosen model's test accuracy by 1.0 point on average, australian's by 2.9 (BENCHMARKS.md, "Trials of
    at least 1,000 steps"). Early stopping still ends a trial that stops improving."""
    steps = -(-rows // batch_size) * epochs
    scale = max(1, -(-MIN_STEPS // steps))
    return epochs * scale, patience * scale


def _train(s: DWNShape, X_train, y_train, X_val, y_val, epochs, patience, seed, train_kwargs):
    import inspect

    from .training.classifier import DWNClassifier  # imports torch

    batch = train_kwargs.get("batch_size", inspect.signature(DWNClassifier).parameters["batch_size"].default)
    epochs, patience = schedule(len(X_train), epochs, patience, batch)
    clf = DWNClassifier(luts=s.luts, lut_inputs=s.lut_inputs, bits=s.bits, epochs=epochs, patience=patience,
                        seed=seed, verbose=False, **train_kwargs)
    try:
        clf.fit(X_train, y_train, X_val, y_val)
    except ValueError as exc:
        raise DWNError(str(exc)) from None
    return clf.freeze()


def search_dwn(X_train, y_train, X_val, y_val, num_classes: int, board, flash_budget: int | None = None,
               ram_budget: int | None = None, shapes=None, max_trials: int | None = 24,
               time_limit: float | None = None, seed: int = 0, epochs: int = 40, patience: int = 15,
               progress: Callable[[str], None] | None = None, incumbents=(), latency_budget: int | None = None,
               quantization=None, **train_kwargs) -> DWNSearchResult:
    """Train DWNs of the shapes that fit (`default_shapes`, or `shapes` in the order given; under
    `latency_budget` too, in priced cycles) and choose by the selection rule on the validation rows. `incumbents`: (DWNShape, FrozenDWN) pairs already trained on the same rows
    (e.g. the choices at smaller budgets, which fit any larger one): priced again here, in the fastest
    layout this budget allows, and kept if best, before any trial. `quantization` (an
    `integer_inputs.Quantization`): the rows are the float features its integers stand for, and every model
    is priced and returned as the integer-input model the firmware runs (`_Best`). `train_kwargs` go to
    `DWNClassifier` (default: float16-grid thresholds, one thread)."""
    board = get_board(board)
    flash_budget, ram_budget = budgets(board, flash_budget, ram_budget)
    X_train = np.asarray(X_train, np.float32)
    F = X_train.shape[1]
    train_kwargs = {"num_threads": 1, "threshold_grid": THRESHOLD_GRID, **train_kwargs}
    grid = train_kwargs["threshold_grid"]
    start = time.monotonic()
    candidates = []
    input_type = quantization.input_type if quantization else "float32"
    if latency_budget is not None:
        from .latency import check_calibrated, dwn_family

        check_calibrated(board.arch, dwn_family(input_type))
    order = _order(shapes, F, num_classes, board, flash_budget, ram_budget, grid, candidates, latency_budget,
                   input_type, max_trials)
    best = _Best(board, Budget(flash_budget, ram_budget, latency_budget), X_val, y_val, candidates, quantization)
    for s, model in incumbents:
        best.consider(s, model, 0.0)
    trials = 0
    planned = len(order) if max_trials is None else min(len(order), max_trials)
    for s in order:
        if (max_trials is not None and trials >= max_trials) or \
                (trials and time_limit is not None and time.monotonic() - start > time_limit):
            break
        trials += 1
        t0 = time.monotonic()
        cand = best.consider(s, _train(s, X_train, y_train, X_val, y_val, epochs, patience, seed, train_kwargs),
                             time.monotonic() - t0)
        if progress:
            progress(f"DWN trial {trials}/{planned}: {s}: val {cand.val_accuracy:.4f}, {cand.flash} B flash "
                     f"({cand.layout}), {cand.seconds:.0f} s; " +
                     (f"best {best.leader.val_accuracy:.4f} ({best.leader.shape})" if best.leader else "none fits yet"))
    for s in order[trials:]:  # fit by their estimate, not trained within the limits: listed too
        layout, flash, ram, fits = estimate(s, F, num_classes, board, flash_budget, ram_budget, grid, latency_budget,
                                            input_type)
        candidates.append(_cand(s, layout, flash, ram, float("nan"), False, fits, 0.0))
    if not best.kept:
        within = "" if latency_budget is None else f" within {latency_budget} {_unit(board)}"
        raise BudgetError(f"no trained DWN fits {flash_budget} bytes of flash{within} on {board.name}")
    cand, model, layout, trained = best.chosen()
    return DWNSearchResult(cand, model, layout, candidates, trials, time.monotonic() - start,
                           flash_budget, ram_budget, latency_budget, best.leader, trained)


def _cand(s, layout, flash, ram, acc, trained, fits, seconds, latency=None) -> DWNCandidate:
    return DWNCandidate(shape=str(s), lut_inputs=s.lut_inputs, luts=tuple(s.luts), bits=s.bits, layout=layout,
                        flash=int(flash), ram=int(ram), val_accuracy=acc, trained=trained, fits=fits,
                        seconds=round(seconds, 2), latency=latency)


def candidate_lines(result: DWNSearchResult) -> list:
    """Every candidate as a Markdown table, the chosen one marked."""
    lines = ["| shape | layout | flash B | RAM B | cycles | val acc | trained | fits |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in result.candidates:
        mark = " (chosen)" if c == result.best else " (most accurate)" if c == result.most_accurate else ""
        acc = f"{c.val_accuracy:.4f}" if c.trained else "-"
        lat = "-" if c.latency is None else str(c.latency)
        lines.append(f"| {c.shape}{mark} | {c.layout} | {c.flash} | {c.ram} | {lat} | {acc} "
                     f"| {'yes' if c.trained else 'no'} | {'yes' if c.fits else 'no'} |")
    return lines


def fit_to_board(data, args, out) -> int:
    """`dwn-mcu train --board B [--flash-budget] [--ram-budget]`: search, print every candidate, save the best."""
    import sys

    from .data import stratified_split
    from .model_file import save

    X, y = data.train_split()
    Xt, yt = data.test_split()
    val = stratified_split(y, 0.2, seed=args.seed)
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    board = get_board(args.board)
    latency = budget_for(board, args.flash_budget, args.ram_budget, args.latency_budget).latency
    r = search_dwn(X[~val], y[~val], X[val], y[val], data.num_classes, board, args.flash_budget,
                   args.ram_budget, max_trials=args.trials, time_limit=args.time_limit, seed=args.seed,
                   epochs=args.epochs, patience=args.patience, progress=say, latency_budget=latency)
    model = r.model
    test_acc = float(np.mean(model.predict(Xt) == yt)) if yt.size else float("nan")
    model.metadata.update(dataset=data.name, test_accuracy=test_acc, board=board.key,
                          layout=r.layout, flash_budget=r.flash_budget, ram_budget=r.ram_budget)
    if latency is not None:
        model.metadata["latency_budget"] = latency
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, out)
    print("\n".join(candidate_lines(r)))
    for label, c in (("most accurate", r.most_accurate), ("chosen", r.best)):
        lat = "" if c.latency is None else f", {c.latency} cycles (priced)"
        print(f"{label:<14} {c.shape}, {c.layout} layout: {c.flash} of {r.flash_budget} bytes of flash, "
              f"{c.ram} of {r.ram_budget} bytes of RAM (planned){lat}; validation {c.val_accuracy:.4f}")
    print(f"test accuracy  {test_acc:.4f} (NumPy reference on the test split)")
    print(f"wrote          {out}")
    return 0
