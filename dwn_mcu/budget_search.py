"""The most accurate DWN that fits a board's (or a budget's) flash and RAM: a seeded, bounded search
over shapes (LUT inputs n, LUTs per layer, layers, thermometer bits per feature).

Each shape's size is known before training: the planner (`dwn_mcu.compiler.make_plan`) prices a random
model of that shape, which is an upper bound of the trained model's size (training can only merge
repeated thresholds). Shapes that cannot fit are skipped untrained; the rest are trained in an order
that spreads over their sizes (the largest first, then the middle, the quarters, ...) until the trial or
time limit, and every trained model is priced again by the planner, in the fastest layout that fits.
The best is the highest validation accuracy that fits, ties to the smaller model, then the earlier trial.
(The planner's figures are estimates: `dwn_mcu.compare` checks the built ELF and searches again if needed.)
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from .compiler import LAYOUTS, BudgetError, get_board, make_plan
from .errors import DWNError
from .synthetic import random_model

DEFAULT_LUT_INPUTS = (4, 6)
DEFAULT_BITS = (4, 8, 16)
DEFAULT_WIDTHS = (16, 32, 64, 128, 256, 512)


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


@dataclass(eq=False)
class DWNSearchResult:
    best: DWNCandidate
    model: object  # FrozenDWN
    layout: str
    candidates: list = field(default_factory=list)
    trials: int = 0
    seconds: float = 0.0
    flash_budget: int = 0
    ram_budget: int = 0

    def table(self) -> list:
        return [asdict(c) for c in self.candidates]


def budgets(board, flash_budget: int | None = None, ram_budget: int | None = None) -> tuple:
    """The model's share: the given budgets, or what the board leaves beside its sketch."""
    board = get_board(board)
    flash = board.flash - board.sketch_flash if flash_budget is None else int(flash_budget)
    ram = board.ram - board.sketch_ram if ram_budget is None else int(ram_budget)
    if flash <= 0 or ram <= 0:
        raise BudgetError(f"budget of {flash} bytes of flash and {ram} bytes of RAM leaves nothing for a model")
    return flash, ram


def default_shapes(num_classes: int, lut_inputs=DEFAULT_LUT_INPUTS, bits=DEFAULT_BITS,
                   widths=DEFAULT_WIDTHS) -> list:
    """One layer of W LUTs, and two layers (2W then W), for every n, W and bits."""
    shapes = []
    for n, b, w in itertools.product(lut_inputs, bits, widths):
        last = -(-w // num_classes) * num_classes
        shapes.append(DWNShape(n, (last,), b))
        shapes.append(DWNShape(n, (2 * last, last), b))
    return sorted(set(shapes), key=lambda s: (s.lut_inputs, s.bits, s.luts))


def _price(model, board, flash_budget, ram_budget):
    """(layout, flash, ram, fits): the fastest layout whose model share fits, by the planner."""
    best = None
    for layout in reversed(LAYOUTS):  # unrolled (fastest) first, then table (smallest)
        try:
            plan = make_plan(model, board, layout=layout)
        except BudgetError:
            continue
        fits = plan.model_flash <= flash_budget and plan.model_ram <= ram_budget
        if fits:
            return layout, plan.model_flash, plan.model_ram, True
        if best is None or plan.model_flash < best[1]:
            best = (layout, plan.model_flash, plan.model_ram, False)
    return best or (None, 0, 0, False)


def search_dwn(X_train, y_train, X_val, y_val, num_classes: int, board, flash_budget: int | None = None,
               ram_budget: int | None = None, shapes=None, max_trials: int | None = 6,
               time_limit: float | None = None, seed: int = 0, epochs: int = 30, patience: int = 10,
               progress: Callable[[str], None] | None = None, **train_kwargs) -> DWNSearchResult:
    """Train DWNs of the shapes that fit, largest first, and keep the best on the validation rows."""
    from .training.classifier import DWNClassifier  # imports torch

    board = get_board(board)
    flash_budget, ram_budget = budgets(board, flash_budget, ram_budget)
    X_train = np.asarray(X_train, np.float32)
    F = X_train.shape[1]
    shapes = default_shapes(num_classes) if shapes is None else list(shapes)
    start = time.monotonic()
    priced = []
    candidates = []
    for s in shapes:
        upper = random_model(seed=0, num_features=F, bits_per_feature=s.bits, luts=s.luts, n=s.lut_inputs,
                             num_classes=num_classes)
        layout, flash, ram, fits = _price(upper, board, flash_budget, ram_budget)
        if fits:
            priced.append((flash, s))
        else:
            candidates.append(_cand(s, layout, flash, ram, float("nan"), False, False, 0.0))
    if not priced:
        smallest = min((c.flash for c in candidates if c.flash), default=0)
        raise BudgetError(f"no DWN shape fits {flash_budget} bytes of flash and {ram_budget} bytes of RAM on "
                          f"{board.name} (the smallest tried needs {smallest} bytes of flash)")
    # Spread over the sizes that fit: the largest first, then the middle, the quarters, ... of the list
    # sorted by planned flash (largest first), so that a few trials see big and small shapes alike.
    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(len(priced))
    by_size = [s for _, _, s in sorted(((-f, int(t), s) for (f, s), t in zip(priced, tiebreak)),
                                       key=lambda v: (v[0], v[1]))]
    order = [by_size[i] for i in _spread(len(by_size))]
    best = best_key = best_model = best_layout = None
    trials = 0
    for s in order:
        if max_trials is not None and trials >= max_trials:
            break
        if trials and time_limit is not None and time.monotonic() - start > time_limit:
            break
        trials += 1
        t0 = time.monotonic()
        clf = DWNClassifier(luts=s.luts, lut_inputs=s.lut_inputs, bits=s.bits, epochs=epochs, patience=patience,
                            seed=seed, verbose=False, **{"num_threads": 1, **train_kwargs})
        try:
            clf.fit(X_train, y_train, X_val, y_val)
        except ValueError as exc:
            raise DWNError(str(exc)) from None
        model = clf.freeze()
        acc = float(np.mean(model.predict(np.asarray(X_val, np.float32)) == np.asarray(y_val)))
        layout, flash, ram, fits = _price(model, board, flash_budget, ram_budget)
        cand = _cand(s, layout, flash, ram, acc, True, fits, time.monotonic() - t0)
        candidates.append(cand)
        if fits and (best_key is None or (acc, -flash) > best_key):
            best, best_key, best_model, best_layout = cand, (acc, -flash), model, layout
        if progress:
            progress(f"DWN trial {trials}: {s}: val {acc:.4f}, {flash} B flash ({layout}), "
                     f"{cand.seconds:.0f} s; best {best.val_accuracy:.4f} ({best.shape})" if best else
                     f"DWN trial {trials}: {s}: does not fit after training")
    if best is None:
        raise BudgetError(f"no trained DWN fits {flash_budget} bytes of flash on {board.name}")
    return DWNSearchResult(best, best_model, best_layout, candidates, trials, time.monotonic() - start,
                           flash_budget, ram_budget)


def _spread(n: int) -> list:
    """0, then the midpoints of ever finer halvings of range(n): 0, n/2, n/4, 3n/4, ... (each index once)."""
    order, seen, parts = [], set(), 1
    while len(order) < n:
        for k in range(parts):
            i = min(n - 1, (k * n) // parts)
            if i not in seen:
                seen.add(i)
                order.append(i)
        parts *= 2
    return order


def _cand(s, layout, flash, ram, acc, trained, fits, seconds) -> DWNCandidate:
    return DWNCandidate(shape=str(s), lut_inputs=s.lut_inputs, luts=tuple(s.luts), bits=s.bits, layout=layout,
                        flash=int(flash), ram=int(ram), val_accuracy=acc, trained=trained, fits=fits,
                        seconds=round(seconds, 2))


def candidate_lines(result: DWNSearchResult) -> list:
    """Every candidate as a Markdown table, the chosen one marked."""
    lines = ["| shape | layout | flash B | RAM B | val acc | trained | fits |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in result.candidates:
        mark = " (chosen)" if c == result.best else ""
        acc = f"{c.val_accuracy:.4f}" if c.trained else "-"
        lines.append(f"| {c.shape}{mark} | {c.layout} | {c.flash} | {c.ram} | {acc} | {'yes' if c.trained else 'no'} "
                     f"| {'yes' if c.fits else 'no'} |")
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
    r = search_dwn(X[~val], y[~val], X[val], y[val], data.num_classes, args.board, args.flash_budget,
                   args.ram_budget, max_trials=args.trials, time_limit=args.time_limit, seed=args.seed,
                   epochs=args.epochs, patience=args.patience, progress=say)
    model = r.model
    test_acc = float(np.mean(model.predict(Xt) == yt)) if yt.size else float("nan")
    model.metadata.update(dataset=data.name, test_accuracy=test_acc, board=get_board(args.board).key,
                          layout=r.layout, flash_budget=r.flash_budget, ram_budget=r.ram_budget)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, out)
    print("\n".join(candidate_lines(r)))
    print(f"chosen         {r.best.shape}, {r.layout} layout: {r.best.flash} of {r.flash_budget} bytes of flash, "
          f"{r.best.ram} of {r.ram_budget} bytes of RAM (planned); validation {r.best.val_accuracy:.4f}")
    print(f"test accuracy  {test_acc:.4f} (NumPy reference on the test split)")
    print(f"wrote          {out}")
    return 0
