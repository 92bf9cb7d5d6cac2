"""`DWNClassifier`: a scikit-learn-like estimator that trains a DWN and freezes it into a FrozenDWN."""

from __future__ import annotations

import contextlib
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from ..data import stratified_split
from ..frozen import MAX_LUT_INPUTS, MAX_SCORE_BITS, FrozenDWN, LutLayer
from ..thermometer import ENCODINGS, Thermometer
from .layers import DWN

SCHEDULES = ("cosine", "step", "constant")
_EVAL_BATCH = 4096


class DWNClassifier:
    """Differentiable Weightless Neural Network classifier.

    Parameters
    ----------
    luts: LUTs per layer, e.g. ``(200,)`` or ``(2000, 1000)``. The last layer is rounded up to a
        multiple of the number of classes (GroupSum needs equal groups); `luts_` holds what was used.
    lut_inputs: inputs per LUT (`n`), 1..16.
    bits: thermometer thresholds per feature (before repeated ones are removed).
    encoding: ``"distributive"`` (training quantiles), ``"uniform"`` or ``"gaussian"``.
    mapping: ``"learnable"`` or ``"random"`` for the first layer; later layers are always random.
    reduction: None (popcount output, GroupSum) or per-class LUT counts ``(L_1, ..., L_R)`` of a learnable
        reduction (docs/learnable-reduction.md): R more LUT layers with a fixed random block-diagonal
        mapping per class, the last one's ``K = L_R <= 16`` bits per class read LSB-first as the score.
    tau: score temperature; None means ``sqrt(group size) / 2`` for GroupSum and, with a reduction,
        ``(2^K - 1) / (2 sqrt(group size))`` (the same logit range as the popcount's).
    lr, epochs, batch_size: Adam learning rate, epochs at most, minibatch size.
    schedule: ``"cosine"`` (to 0 over `epochs`), ``"step"`` (times `gamma` every `step_size` epochs) or
        ``"constant"``.
    seed: seeds the validation split, the initial tables and mappings and the batch order.
    validation_fraction: share of the training rows (stratified) held out for early stopping when
        `fit` gets no `X_val`; 0 trains on every row and keeps the last epoch.
    patience: stop after this many epochs without a better validation accuracy; the best weights are
        restored.
    spectral: weight of `dwn_mcu.training.spectral.spectral_penalty` on every layer's tables (0: off).
    threshold_grid: None, or ``"float16"`` to snap the fitted thresholds to float16-representable values
        (`dwn_mcu.optimize.threshold_grid`), so that a compiler can store them in 16 bits while the
        comparison stays exact for every float32 input.
    device: ``"cuda"``, ``"cpu"``, ... ; None picks CUDA when available.
    num_threads: CPU threads torch may use while fitting and predicting (None: torch's own setting).
        The default, 1, is fastest for the small models microcontrollers hold: their operations are too
        small to share, and on a busy machine threads wait for each other (phoneme, 200 LUTs, 10 epochs:
        2.7 s on one thread, 35 s on two, on a loaded 2-core VM). Raise it for MNIST-sized models on CPU.
    verbose: show a progress bar per epoch (only on a terminal).
    """

    def __init__(
        self,
        luts=(200,),
        lut_inputs: int = 6,
        bits: int = 32,
        encoding: str = "distributive",
        mapping: str = "learnable",
        tau: float | None = None,
        lr: float = 1e-2,
        epochs: int = 60,
        batch_size: int = 128,
        schedule: str = "cosine",
        step_size: int = 14,
        gamma: float = 0.1,
        seed: int = 0,
        validation_fraction: float = 0.2,
        patience: int = 20,
        spectral: float = 0.0,
        threshold_grid: str | None = None,
        reduction=None,
        device: str | None = None,
        num_threads: int | None = 1,
        verbose: bool = True,
    ):
        self.luts = luts
        self.lut_inputs = lut_inputs
        self.bits = bits
        self.encoding = encoding
        self.mapping = mapping
        self.tau = tau
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.schedule = schedule
        self.step_size = step_size
        self.gamma = gamma
        self.seed = seed
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.spectral = spectral
        self.threshold_grid = threshold_grid
        self.reduction = reduction
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose

    _PARAMS = (
        "luts", "lut_inputs", "bits", "encoding", "mapping", "tau", "lr", "epochs", "batch_size", "schedule",
        "step_size", "gamma", "seed", "validation_fraction", "patience", "spectral", "threshold_grid", "reduction", "device", "num_threads",
        "verbose",
    )

    def get_params(self, deep: bool = True) -> dict:
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params) -> "DWNClassifier":
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"unknown parameter {k!r}")
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------------------------------ checks
    def _check_params(self) -> tuple[int, ...]:
        luts = (int(self.luts),) if np.isscalar(self.luts) else tuple(int(v) for v in self.luts)
        if not luts or min(luts) < 1:
            raise ValueError(f"luts must list one or more positive LUT counts, got {self.luts!r}")
        if not 1 <= int(self.lut_inputs) <= MAX_LUT_INPUTS:
            raise ValueError(f"lut_inputs must be 1..{MAX_LUT_INPUTS}, got {self.lut_inputs}")
        if int(self.bits) < 1:
            raise ValueError(f"bits must be at least 1, got {self.bits}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}")
        if self.mapping not in ("learnable", "random"):
            raise ValueError(f"mapping must be 'learnable' or 'random', got {self.mapping!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if not self.lr > 0 or (self.tau is not None and not self.tau > 0):
            raise ValueError("lr and tau must be positive")
        if self.reduction is not None:
            red = tuple(int(v) for v in self.reduction)
            if not red or min(red) < 1 or red[-1] > MAX_SCORE_BITS:
                raise ValueError(
                    f"reduction must list one or more positive per-class LUT counts, the last at most "
                    f"{MAX_SCORE_BITS} (score bits), got {self.reduction!r}"
                )
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        return luts

    def _labels(self, y, class_names) -> np.ndarray:
        y = np.asarray(y)
        if class_names is not None:
            self.classes_ = np.arange(len(class_names))
            self.class_names_ = tuple(str(c) for c in class_names)
            if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= len(class_names))):
                raise ValueError(f"with class_names, y must be integers in 0..{len(class_names) - 1}")
            return y.astype(np.int64)
        self.classes_ = np.unique(y)
        self.class_names_ = tuple(str(c) for c in self.classes_)
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _label_index(self, y) -> np.ndarray:
        y = np.asarray(y)
        idx = np.searchsorted(self.classes_, y)
        if np.any(idx >= self.classes_.size) or np.any(self.classes_[np.minimum(idx, self.classes_.size - 1)] != y):
            raise ValueError("y_val has labels not seen in y")
        return idx.astype(np.int64)

    # ------------------------------------------------------------------------------------------- fit
    def fit(self, X, y, X_val=None, y_val=None, feature_names=None, class_names=None, callback=None):
        """Train on `X` (N, F) and labels `y`. Early stopping watches `X_val`/`y_val` when given, else a
        stratified `validation_fraction` of the rows. `feature_names`/`class_names` name the columns and
        labels 0..C-1 in the frozen model; `callback(record)` gets each epoch's record of `history_`
        (epoch, loss, train_accuracy, val_accuracy, seconds). Returns self."""
        luts = self._check_params()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[0] != np.shape(y)[0] or X.shape[0] == 0:
            raise ValueError(f"X must be (N, F) with one label per row; got X {X.shape}, y {np.shape(y)}")
        y_idx = self._labels(y, class_names)
        C = len(self.class_names_)
        if C < 2:
            raise ValueError("y has a single class; a classifier needs at least two")
        self.feature_names_ = (
            tuple(str(f) for f in feature_names) if feature_names is not None
            else tuple(f"x{i}" for i in range(X.shape[1]))
        )
        if len(self.feature_names_) != X.shape[1]:
            raise ValueError(f"{len(self.feature_names_)} feature names for {X.shape[1]} features")

        if X_val is not None:
            X_tr, y_tr = X, y_idx
            X_va, y_va = np.asarray(X_val, dtype=np.float32), self._label_index(y_val)
        elif self.validation_fraction > 0:
            held = stratified_split(y_idx, self.validation_fraction, self.seed)
            X_tr, y_tr, X_va, y_va = X[~held], y_idx[~held], X[held], y_idx[held]
        else:
            X_tr, y_tr, X_va, y_va = X, y_idx, None, None

        self.thermometer_ = Thermometer.fit(X_tr, int(self.bits), self.encoding)
        if self.threshold_grid == "float16":
            from ..optimize.threshold_grid import snap_thermometer_to_float16

            self.thermometer_ = Thermometer(
                *snap_thermometer_to_float16(self.thermometer_.thresholds, self.thermometer_.bits_per_feature),
                self.encoding,
            )
        elif self.threshold_grid is not None:
            raise ValueError(f"threshold_grid must be None or 'float16', got {self.threshold_grid!r}")
        if self.thermometer_.num_bits == 0:
            raise ValueError("no feature has two distinct finite values: nothing to encode")
        luts = luts[:-1] + (-(-luts[-1] // C) * C,)
        self.luts_ = luts
        group = luts[-1] // C
        self.reduction_ = tuple(int(v) for v in self.reduction) if self.reduction is not None else ()
        if self.tau is not None:
            self.tau_ = float(self.tau)
        elif self.reduction_:
            self.tau_ = ((1 << self.reduction_[-1]) - 1) / (2 * math.sqrt(group))
        else:
            self.tau_ = math.sqrt(group) / 2
        self.device_ = _device(self.device)
        self.model_ = DWN(
            self.thermometer_.num_bits, luts, int(self.lut_inputs), C, self.tau_, self.mapping, int(self.seed),
            self.reduction_,
        ).to(self.device_)
        with _threads(self.num_threads):
            self._train(X_tr, y_tr, X_va, y_va, callback)
        return self

    def _bits(self, X) -> torch.Tensor:
        return torch.from_numpy(self.thermometer_.encode(X)).to(self.device_)

    def _penalty(self):
        from .spectral import spectral_penalty  # written separately; only needed when asked for

        return sum(spectral_penalty(layer.entries) for layer in self.model_.layers)

    def _train(self, X_tr, y_tr, X_va, y_va, callback) -> None:
        from tqdm.auto import tqdm

        model, dev = self.model_, self.device_
        bits = self._bits(X_tr)
        labels = torch.from_numpy(y_tr).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr), fused=True)
        epochs = int(self.epochs)
        if self.schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        elif self.schedule == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=int(self.step_size), gamma=float(self.gamma))
        else:
            sched = None
        gen = torch.Generator().manual_seed(int(self.seed))
        N, bs = bits.shape[0], int(self.batch_size)
        best_acc, best_state, best_epoch, since_best = -1.0, None, 0, 0
        self.history_ = []
        bar = tqdm(
            range(1, epochs + 1), desc="epochs", unit="ep", leave=False,
            disable=not (self.verbose and sys.stderr.isatty()),
        )
        for epoch in bar:
            started = time.perf_counter()
            model.train()  # (no layer behaves differently in eval mode; kept for form)
            order = torch.randperm(N, generator=gen).to(dev)
            total_loss = torch.zeros((), device=dev)  # summed on the device: no sync per step
            correct = torch.zeros((), dtype=torch.int64, device=dev)
            for start in range(0, N, bs):
                idx = order[start : start + bs]
                xb, yb = bits[idx].float(), labels[idx]
                scores = model(xb)
                loss = F.cross_entropy(scores, yb)
                if self.spectral > 0:
                    loss = loss + float(self.spectral) * self._penalty()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                model.clamp_()
                total_loss += loss.detach() * idx.numel()
                correct += (_argmax_lowest(scores.detach()) == yb).sum()
            if sched is not None:
                sched.step()
            record = {"epoch": epoch, "loss": float(total_loss) / N, "train_accuracy": int(correct) / N}
            if X_va is not None:
                record["val_accuracy"] = float(np.mean(self._predict_index(X_va) == y_va))
                if record["val_accuracy"] > best_acc:
                    best_acc, best_epoch, since_best = record["val_accuracy"], epoch, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    since_best += 1
            record["seconds"] = time.perf_counter() - started
            self.history_.append(record)
            if callback is not None:
                callback(record)
            bar.set_postfix(
                loss=f"{record['loss']:.4f}", train=f"{record['train_accuracy']:.4f}",
                **({"val": f"{record['val_accuracy']:.4f}"} if X_va is not None else {}),
            )
            if X_va is not None and since_best >= int(self.patience):
                break
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        self.best_epoch_ = best_epoch if best_state is not None else len(self.history_)
        self.validation_accuracy_ = best_acc if best_state is not None else None
        self.train_accuracy_ = float(np.mean(self._predict_index(X_tr) == y_tr))

    # ------------------------------------------------------------------------------------ inference
    def scores(self, X) -> np.ndarray:
        """Per-class integer scores (N, C) int64 of the torch model in eval mode (no temperature): popcounts,
        or with a reduction each class's binary score."""
        X = np.asarray(X, dtype=np.float32)
        with _threads(self.num_threads):
            return self._scores(X)

    @torch.no_grad()
    def _scores(self, X) -> np.ndarray:
        self.model_.eval()
        out = []
        C = len(self.class_names_)
        for start in range(0, X.shape[0], _EVAL_BATCH):
            b = self.model_.output_bits(self._bits(X[start : start + _EVAL_BATCH]).float())
            b = b.reshape(b.shape[0], C, -1).to(torch.int64)
            if self.reduction_:
                b = b << torch.arange(b.shape[2], device=b.device)  # bit k of the score, LSB first
            out.append(b.sum(dim=2).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, C), np.int64)

    def _predict_index(self, X) -> np.ndarray:
        return np.argmax(self._scores(X), axis=1)  # ties to the lowest index, as the reference

    def predict(self, X) -> np.ndarray:
        return self.classes_[self._predict_index(X)]

    def score(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))

    # --------------------------------------------------------------------------------------- freeze
    def freeze(self) -> FrozenDWN:
        """The trained model as a validated, torch-free FrozenDWN."""
        layers = tuple(
            LutLayer.uniform(
                layer.mapping.indices().cpu().numpy(), layer.table_bits().cpu().numpy().astype(np.uint8)
            )
            for layer in self.model_.layers
        )
        config = {k: v for k, v in self.get_params().items() if k not in ("device", "verbose")}
        config["luts"] = list(self.luts_)
        config["tau"] = self.tau_
        config["reduction"] = list(self.reduction_) or None
        metadata = {
            "trainer": f"dwn-mcu {__version__}",
            "config": config,
            "train_accuracy": self.train_accuracy_,
            "validation_accuracy": self.validation_accuracy_,
            "epochs_run": len(self.history_),
            "best_epoch": self.best_epoch_,
        }
        return FrozenDWN(
            thresholds=self.thermometer_.thresholds,
            bits_per_feature=self.thermometer_.bits_per_feature,
            layers=layers,
            num_classes=len(self.class_names_),
            class_names=self.class_names_,
            feature_names=self.feature_names_,
            metadata=metadata,
            reduction_layers=len(self.reduction_),
        ).validate()


def _argmax_lowest(scores: torch.Tensor) -> torch.Tensor:
    """Argmax with ties to the lowest index (torch documents first-max, this makes it explicit)."""
    top = scores.max(dim=1, keepdim=True).values
    idx = torch.arange(scores.shape[1], device=scores.device).expand_as(scores)
    return torch.where(scores == top, idx, scores.shape[1]).min(dim=1).values


@contextlib.contextmanager
def _threads(count):
    """Run with `count` torch CPU threads (None: unchanged), restoring the setting afterwards."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _device(name) -> torch.device:
    """The torch device `name` (None: CUDA when available, else CPU); ValueError if unusable here."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine")
    return dev
