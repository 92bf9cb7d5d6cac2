"""`DWNClassifier`: a scikit-learn-like estimator that trains a DWN and freezes it into a FrozenDWN."""

from __future__ import annotations

import contextlib
import inspect
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
from .distributed import Group, fingerprint, is_main, local_device
from .layers import DWN
from .validation import check_X, check_y, feature_names_of, not_fitted

SCHEDULES = ("cosine", "step", "constant")
_EVAL_BATCH = 4096
_LOCAL_PARAMS = ("device", "verbose")  # may differ between processes; not part of the model's configuration


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
        (`dwn_mcu.threshold_grid`), so that a compiler can store them in 16 bits while the
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

    @classmethod
    def _get_param_names(cls) -> list:
        """The parameters: the keywords of `__init__`, in its order (scikit-learn's convention)."""
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The parameters as given to `__init__` or `set_params` (`deep` is accepted; none is an estimator)."""
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params) -> "DWNClassifier":
        """Set parameters by name (checked when `fit` runs, as scikit-learn does); returns self."""
        valid = self._get_param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {valid!r}.")
            setattr(self, k, v)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "train_accuracy_")  # the last attribute `fit` sets

    def __sklearn_tags__(self):
        """scikit-learn's tags (called by scikit-learn only, so importing it here is safe): a classifier
        whose inputs may hold NaN (the thermometer gives NaN bit 0)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True), transformer_tags=None,
                    classifier_tags=ClassifierTags(), regressor_tags=None, input_tags=InputTags(allow_nan=True))

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

    # ------------------------------------------------------------------------------------------- fit
    def fit(self, X, y, X_val=None, y_val=None, feature_names=None, class_names=None, callback=None):
        """Train on `X` (N, F) and labels `y` (1-D; any sortable labels, or integers 0..C-1 with
        `class_names`). Early stopping watches `X_val`/`y_val` when given, else a stratified
        `validation_fraction` of the rows. `feature_names`/`class_names` name the columns and classes in
        the frozen model (feature names default to a DataFrame's string columns, else x0, x1, ...);
        `callback(record)` gets each epoch's record of `history_` (epoch, loss, train_accuracy,
        val_accuracy, seconds). Everything is checked before any fitted attribute changes. Returns self."""
        luts = self._check_params()
        names_in = feature_names_of(X)
        X = check_X(X)
        classes, labels, y_idx = _encode_labels(check_y(y, X.shape[0]), class_names)
        F, C = X.shape[1], len(labels)
        names = _feature_names(feature_names, names_in, F)
        if X_val is not None:
            X_tr, y_tr, X_va = X, y_idx, check_X(X_val, F, name="X_val")
            y_va = _label_index(classes, check_y(y_val, X_va.shape[0], name="y_val"))
        elif self.validation_fraction > 0:
            held = stratified_split(y_idx, self.validation_fraction, self.seed)
            X_tr, y_tr, X_va, y_va = X[~held], y_idx[~held], X[held], y_idx[held]
        else:
            X_tr, y_tr, X_va, y_va = X, y_idx, None, None
        thermometer, device = self._fit_thermometer(X_tr), local_device(resolve_device(self.device))
        if Group.current():  # data-parallel: every rank must fit the same rows with the same parameters
            Group.current().require_same(device, **fingerprint(X_tr, y_tr, X_va, self._model_params()))

        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, k)  # a refit starts from nothing: no attribute of the previous fit survives
        self.n_features_in_, self.classes_, self.class_names_, self.feature_names_ = F, classes, labels, names
        if names_in is not None:
            self.feature_names_in_ = names_in
        self.thermometer_ = thermometer
        self.luts_ = luts[:-1] + (-(-luts[-1] // C) * C,)
        self.reduction_ = tuple(int(v) for v in self.reduction) if self.reduction is not None else ()
        self.tau_ = self._tau(self.luts_[-1] // C)
        self.device_ = device
        self.model_ = DWN(
            thermometer.num_bits, self.luts_, int(self.lut_inputs), C, self.tau_, self.mapping, int(self.seed),
            self.reduction_,
        ).to(self.device_)
        with _threads(self.num_threads):
            self._train(X_tr, y_tr, X_va, y_va, callback)
        return self

    def _fit_thermometer(self, X_tr) -> Thermometer:
        thermometer = Thermometer.fit(X_tr, int(self.bits), self.encoding)
        if self.threshold_grid == "float16":
            from ..threshold_grid import snap_thermometer_to_float16

            thermometer = Thermometer(
                *snap_thermometer_to_float16(thermometer.thresholds, thermometer.bits_per_feature), self.encoding
            )
        elif self.threshold_grid is not None:
            raise ValueError(f"threshold_grid must be None or 'float16', got {self.threshold_grid!r}")
        if thermometer.num_bits == 0:
            raise ValueError("no feature has two distinct finite values: nothing to encode")
        return thermometer

    def _model_params(self) -> dict:
        return {k: v for k, v in self.get_params().items() if k not in _LOCAL_PARAMS}

    def _tau(self, group: int) -> float:
        if self.tau is not None:
            return float(self.tau)
        if self.reduction_:
            return ((1 << self.reduction_[-1]) - 1) / (2 * math.sqrt(group))
        return math.sqrt(group) / 2

    def _bits(self, X) -> torch.Tensor:
        return torch.from_numpy(self.thermometer_.encode(X)).to(self.device_)

    def _penalty(self):
        from .spectral import spectral_penalty  # written separately; only needed when asked for

        return sum(spectral_penalty(layer.entries) for layer in self.model_.layers)

    def _train(self, X_tr, y_tr, X_va, y_va, callback) -> None:
        from tqdm.auto import tqdm

        model, dev = self.model_, self.device_
        group = Group.current()  # data-parallel under torchrun (training/distributed.py), else None
        net = group.wrap(model, dev) if group else model
        bits = self._bits(X_tr)
        labels = torch.from_numpy(y_tr).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=float(self.lr), fused=True)
        epochs = int(self.epochs)
        sched = self._scheduler(opt, epochs)
        gen = torch.Generator().manual_seed(int(self.seed))
        N = bits.shape[0]
        best_acc, best_state, best_epoch, since_best = -1.0, None, 0, 0
        self.history_ = []
        bar = tqdm(
            range(1, epochs + 1), desc="epochs", unit="ep", leave=False,
            disable=not (self.verbose and sys.stderr.isatty() and is_main()),  # under torchrun: rank 0's bar
        )
        for epoch in bar:
            started = time.perf_counter()
            model.train()  # (no layer behaves differently in eval mode; kept for form)
            total_loss, correct = self._epoch(net, group, bits, labels, torch.randperm(N, generator=gen).to(dev), opt)
            if group:
                total_loss, correct = group.sum(total_loss), group.sum(correct)
            if sched is not None:
                sched.step()
            record = {"epoch": epoch, "loss": float(total_loss) / N, "train_accuracy": int(correct) / N}
            if X_va is not None:
                record["val_accuracy"] = self._accuracy(X_va, y_va, group)
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
        self.train_accuracy_ = self._accuracy(X_tr, y_tr, group)

    def _scheduler(self, opt, epochs: int):
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        if self.schedule == "step":
            return torch.optim.lr_scheduler.StepLR(opt, step_size=int(self.step_size), gamma=float(self.gamma))
        return None

    def _accuracy(self, X, y, group) -> float:
        """Accuracy on (X, y); with a data-parallel `group`, each rank counts its share of the rows and the
        counts are summed, so every rank gets the same value."""
        if group is None:
            return float(np.mean(self._predict_index(X) == y))
        hits = int(np.sum(self._predict_index(group.shard(X)) == group.shard(y)))
        return int(group.sum(torch.tensor(hits, dtype=torch.int64, device=self.device_))) / len(y)

    def _epoch(self, net, group, bits, labels, order, opt) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass over the rows in `order` through `net` (the model, or its DDP wrapper): (summed loss,
        correct count) of this process's rows, kept on the device (no sync per step). With a `group`, each
        global batch of `batch_size` rows is split across the ranks."""
        model, dev, bs = self.model_, self.device_, int(self.batch_size)
        total_loss = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        for start in range(0, order.numel(), bs):
            idx = order[start : start + bs]
            rows = idx.numel()
            if group:
                idx = group.shard(idx)
            xb, yb = bits[idx].float(), labels[idx]
            scores = net(xb)
            loss = group.loss(scores, yb, rows) if group else F.cross_entropy(scores, yb)
            if self.spectral > 0:
                loss = loss + float(self.spectral) * self._penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clamp_()
            total_loss += loss.detach() * (rows / group.world if group else rows)
            correct += (_argmax_lowest(scores.detach()) == yb).sum()
        return total_loss, correct

    # ------------------------------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise not_fitted(self)

    def _inputs(self, X) -> np.ndarray:
        """`X` checked against the fit: fitted, 2-D numeric, `n_features_in_` columns, the same names."""
        self._check_fitted()
        names = feature_names_of(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and not np.array_equal(names, fitted):
            raise ValueError(f"The feature names should match those that were passed during fit: "
                             f"got {list(names)}, fitted on {list(fitted)}")
        return check_X(X, self.n_features_in_, estimator=type(self).__name__)

    def scores(self, X) -> np.ndarray:
        """Per-class integer scores (N, C) int64 of the torch model in eval mode (no temperature): popcounts,
        or with a reduction each class's binary score."""
        X = self._inputs(X)
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
        """The label in `classes_` of the highest score per row (ties to the lowest index, as `FrozenDWN`)."""
        X = self._inputs(X)
        with _threads(self.num_threads):
            return self.classes_[self._predict_index(X)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, C) float64, columns in `classes_` order: the softmax of `scores / tau_`,
        the distribution the cross-entropy trained (its argmax is `predict`, ties included)."""
        logits = self.scores(X) / self.tau_
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of `predict(X)` against `y` (weighted by `sample_weight` when given)."""
        pred = self.predict(X)
        y = check_y(y, pred.shape[0])
        return float(np.average(pred == y, weights=sample_weight))

    # --------------------------------------------------------------------------------------- freeze
    def freeze(self) -> FrozenDWN:
        """The trained model as a validated, torch-free FrozenDWN."""
        self._check_fitted()
        layers = tuple(
            LutLayer.uniform(
                layer.mapping.indices().cpu().numpy(), layer.table_bits().cpu().numpy().astype(np.uint8)
            )
            for layer in self.model_.layers
        )
        config = self._model_params()
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


def _encode_labels(y: np.ndarray, class_names) -> tuple[np.ndarray, tuple, np.ndarray]:
    """(`classes_`, class names, y as int64 indices into classes_) of checked labels `y`."""
    if class_names is not None:
        labels = tuple(str(c) for c in class_names)
        if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= len(labels))):
            raise ValueError(f"with class_names, y must be integers in 0..{len(labels) - 1}")
        classes, y_idx = np.arange(len(labels)), y.astype(np.int64)
    else:
        classes, y_idx = np.unique(y, return_inverse=True)
        labels = tuple(str(c) for c in classes)
    if len(classes) < 2:
        raise ValueError(f"y has only one class ({labels[0] if labels else 'none'}); a classifier needs at least two")
    return classes, labels, y_idx.astype(np.int64)


def _label_index(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`y`'s labels as indices into `classes`; ValueError for a label not among them."""
    idx = np.searchsorted(classes, y)
    if np.any(idx >= classes.size) or np.any(classes[np.minimum(idx, classes.size - 1)] != y):
        raise ValueError("y_val has labels not seen in y")
    return idx.astype(np.int64)


def _feature_names(given, from_columns, count: int) -> tuple:
    """The frozen model's feature names: `given`, else a DataFrame's string columns, else x0, x1, ..."""
    if given is not None:
        names = tuple(str(f) for f in given)
    elif from_columns is not None:
        names = tuple(from_columns)
    else:
        names = tuple(f"x{i}" for i in range(count))
    if len(names) != count:
        raise ValueError(f"{len(names)} feature names for {count} features")
    return names


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


def resolve_device(name) -> torch.device:
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
