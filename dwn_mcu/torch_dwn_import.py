"""Import a model trained with the official `torch_dwn` package (1.1.x) as a `FrozenDWN`.

torch is imported lazily, only to read the files (`torch.load(..., weights_only=True)`, which never
unpickles arbitrary objects); everything after reading is NumPy.

What torch_dwn computes (read from its 1.1.1 source), and how each fact maps to the frozen format:

* Thermometer (`Thermometer`, `GaussianThermometer`, `DistributiveThermometer`): `thresholds` has shape
  `(*feature_shape, B)` when `feature_wise=True`, `(1, B)` or `(B,)` when one set is shared by every
  feature. `binarize(x)` is `(x.unsqueeze(-1) > thresholds).float()`, of shape `(N, *feature_shape, B)`,
  and its users flatten it with `.flatten(start_dim=1)`: input bit `f * B + b` is `x[f] > T[f, b]`,
  feature-major, as in the frozen format. The comparison is strict and runs in the promoted dtype of
  `x` and `T`. A float64 threshold `t` is replaced by the largest float32 `t32 <= t`: for every float32
  `x` (NaN and infinities included), `x > t` exactly when `x > t32`. Repeated thresholds of a feature
  (distributive thermometers repeat quantiles of tied data) and unsorted ones are merged and sorted,
  and the first layer's mapping is rewritten to point at the merged bit, so the model computes the same
  bits. A threshold that is NaN or infinite has no finite float32 equivalent and is refused.
* `LUTLayer`: `luts` (L, 2**n) float; the CUDA kernel's address is `sum_k (input[mapping[j][k]] > 0) << k`
  (slot 0 is the least significant bit), and the straight-through step outputs `luts[j][addr] > 0`. So
  the stored bit is `entry > 0` (NaN, 0 and -0 give 0). A random or arange mapping is the int parameter
  `mapping` (L, n). A learnable mapping is `mapping.weights` (inputs, L*n) with the dummy mapping
  `_LUTLayer__dummy_mapping` = arange(L*n).reshape(L, n): slot k of LUT j reads input
  `argmax(weights[:, j*n + k])` (the first maximum, as torch and NumPy break ties).
* `GroupSum(k, tau)` holds no tensors: the number of classes `k` must be given. It pads the last layer
  with zero bits up to a multiple of `k` and sums contiguous groups (`view(k, -1)`), then divides by
  `tau > 0`, which does not change the argmax. Padding becomes LUTs with no inputs whose table is 0; a
  `randperm` (not saved in the state dict) can be passed as `group_permutation`.

Checkpoint (`.pt`) formats accepted:

1. `torch.save(model.state_dict(), path)` for `model = nn.Sequential(LUTLayer, ..., LUTLayer, GroupSum)`
   (keys `0.luts`, `0.mapping` or `0.mapping.weights` + `0._LUTLayer__dummy_mapping`, `1.luts`, ...).
   Any module prefix works; the layers are taken in the state dict's order, which for `nn.Sequential`
   is the order of the forward pass. Every key must belong to a LUT layer.
2. A dict `{"state_dict": <that state dict>, "num_classes": int, "class_names": [str],
   "feature_names": [str], "thresholds": tensor, "group_permutation": tensor}`; all but `state_dict`
   optional; arguments of `import_torch_dwn` take precedence.

Thresholds file: a `.npy` array, or a `.pt` file holding a tensor (`torch.save(thermometer.thresholds,
path)`) or a dict with exactly one tensor, or one key named `thresholds` / ending in `.thresholds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import CheckpointError, DWNFormatError
from .frozen import MAX_LUT_INPUTS, FrozenDWN, LutLayer

_DUMMY = "_LUTLayer__dummy_mapping"


# ------------------------------------------------------------------------------------------ reading
def _torch_load(path: Path):
    try:
        import torch
    except ImportError:
        raise CheckpointError("reading a torch checkpoint needs PyTorch (pip install 'dwn-mcu[train]')") from None
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: refused by torch.load(weights_only=True): it holds Python objects, not only tensors "
            "(save model.state_dict() instead)"
        ) from None
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable torch file ({first[:160]})") from None


def _to_numpy(value, what: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    raise CheckpointError(f"{what}: expected a tensor, got {type(value).__name__}")


def read_thresholds(source) -> np.ndarray:
    """Thresholds as a NumPy array from a path (`.npy` or torch file), an array or a tensor."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix == ".npy":
            try:
                return np.load(path, allow_pickle=False)
            except FileNotFoundError:
                raise CheckpointError(f"{path}: no such file") from None
            except (ValueError, OSError, EOFError) as exc:
                raise CheckpointError(f"{path}: not a readable .npy array without pickles ({exc})") from None
        obj = _torch_load(path)
        if isinstance(obj, Mapping):
            keys = [k for k in obj if k == "thresholds" or str(k).endswith(".thresholds")]
            if not keys and len(obj) == 1:
                keys = list(obj)
            if len(keys) != 1:
                raise CheckpointError(
                    f"{path}: a dict of thresholds needs one key 'thresholds' (found {sorted(map(str, obj))[:5]})"
                )
            obj = obj[keys[0]]
        return _to_numpy(obj, f"{path}: thresholds")
    return _to_numpy(source, "thresholds")


def _read_checkpoint(checkpoint) -> tuple[dict, dict]:
    """(state dict of NumPy arrays in order, extras) from a path or an in-memory mapping."""
    where = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "checkpoint"
    obj = _torch_load(Path(checkpoint)) if isinstance(checkpoint, (str, Path)) else checkpoint
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where}: expected a state dict (a mapping of names to tensors), got {type(obj).__name__}")
    extras = {}
    if "state_dict" in obj:
        extras = {k: v for k, v in obj.items() if k != "state_dict"}
        known = {"num_classes", "class_names", "feature_names", "thresholds", "group_permutation"}
        unknown = sorted(set(map(str, extras)) - known)
        if unknown:
            raise CheckpointError(f"{where}: unexpected entry {unknown[0]!r} beside 'state_dict' (allowed: {sorted(known)})")
        obj = obj["state_dict"]
        if not isinstance(obj, Mapping):
            raise CheckpointError(f"{where}: 'state_dict' is not a mapping of names to tensors")
    state = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{where}: state dict key {key!r} is not a string")
        state[key] = _to_numpy(value, f"{where}: {key}")
    return state, extras


# ------------------------------------------------------------------------------------ conventions
def _split_layers(state: dict, where: str) -> list[dict]:
    """Group state dict entries by LUTLayer prefix, in the state dict's order."""
    prefixes = [k[: -len("luts")] for k in state if k == "luts" or k.endswith(".luts")]
    if not prefixes:
        raise CheckpointError(f"{where}: no LUT layer found (no key named 'luts' or ending in '.luts')")
    layers = []
    claimed = set()
    for p in prefixes:
        entry = {"prefix": p, "luts": state[p + "luts"]}
        claimed.add(p + "luts")
        if p + "mapping" in state:
            entry["mapping"] = state[p + "mapping"]
            claimed.add(p + "mapping")
        if p + "mapping.weights" in state:
            entry["weights"] = state[p + "mapping.weights"]
            claimed.add(p + "mapping.weights")
        if p + _DUMMY in state:
            entry["dummy"] = state[p + _DUMMY]
            claimed.add(p + _DUMMY)
        layers.append(entry)
    for key in state:
        if key not in claimed:
            raise CheckpointError(
                f"{where}: unexpected key {key!r}: only torch_dwn LUTLayer tensors (luts, mapping, "
                f"mapping.weights, {_DUMMY}) may be in the state dict"
            )
    return layers


def _layer_mapping(entry: dict, prev: int, index: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(mapping (L, n) int64 into the previous bit vector, tables (L, 2**n) uint8) of one LUTLayer."""
    name = f"{where}: layer {index} ({entry['prefix'] or '<root>'})"
    luts = entry["luts"]
    if luts.ndim != 2 or luts.dtype.kind != "f":
        raise CheckpointError(f"{name}: luts must be a 2-D float tensor, got {luts.dtype} of shape {luts.shape}")
    num_luts, width = luts.shape
    n = width.bit_length() - 1
    if num_luts == 0 or width < 2 or width != 1 << n or n > MAX_LUT_INPUTS:
        raise CheckpointError(f"{name}: luts of shape {luts.shape}: need L >= 1 rows of 2**n entries, 1 <= n <= {MAX_LUT_INPUTS}")
    tables = (luts > 0).astype(np.uint8)  # the straight-through step: bit = entry > 0 (NaN -> 0)

    if "weights" in entry:  # learnable mapping: argmax over inputs
        if "mapping" in entry:
            raise CheckpointError(f"{name}: has both 'mapping' and 'mapping.weights'")
        w = entry["weights"]
        if w.ndim != 2 or w.dtype.kind != "f":
            raise CheckpointError(f"{name}: mapping.weights must be a 2-D float tensor, got shape {w.shape}")
        if w.shape != (prev, num_luts * n):
            raise CheckpointError(
                f"{name}: mapping.weights has shape {w.shape}, expected ({prev}, {num_luts * n}) "
                f"for {prev} input bits and {num_luts} LUTs of {n} inputs"
            )
        if not np.all(np.isfinite(w)):
            raise CheckpointError(f"{name}: mapping.weights contains NaN or infinity")
        dummy = entry.get("dummy")
        if dummy is None:
            raise CheckpointError(f"{name}: learnable mapping without {_DUMMY}")
        if dummy.shape != (num_luts, n) or not np.array_equal(dummy, np.arange(num_luts * n).reshape(num_luts, n)):
            raise CheckpointError(f"{name}: {_DUMMY} is not arange(L*n).reshape(L, n); slot order unknown")
        mapping = np.argmax(w, axis=0).reshape(num_luts, n).astype(np.int64)
    elif "mapping" in entry:
        m = entry["mapping"]
        if "dummy" in entry:
            raise CheckpointError(f"{name}: {_DUMMY} without mapping.weights")
        if m.dtype.kind not in "iu":
            raise CheckpointError(f"{name}: mapping must be an integer tensor, got {m.dtype}")
        if m.shape != (num_luts, n):
            raise CheckpointError(f"{name}: mapping has shape {m.shape}, luts {luts.shape} need ({num_luts}, {n})")
        mapping = m.astype(np.int64)
        if mapping.min() < 0 or mapping.max() >= prev:
            bad = int(mapping.max()) if mapping.max() >= prev else int(mapping.min())
            hint = " (thresholds shared by all features? give --num-features)" if index == 1 else ""
            raise CheckpointError(f"{name}: mapping index {bad} outside the {prev} bits of its input{hint}")
    else:
        raise CheckpointError(f"{name}: no 'mapping' or 'mapping.weights' beside 'luts'")
    return mapping, tables


def _float32_below(t: np.ndarray) -> np.ndarray:
    """Largest float32 <= t, elementwise: `x > t` equals `x > result` for every float32 x."""
    t64 = t.astype(np.float64)
    with np.errstate(over="ignore"):
        t32 = t64.astype(np.float32)
    up = t32.astype(np.float64) > t64
    t32[up] = np.nextafter(t32[up], np.float32(-np.inf))
    return t32


def _thermometer(thresholds: np.ndarray, num_features: int | None, first_inputs: int | None, where: str):
    """Per-feature (F, B) float32 thresholds, with F resolved; `first_inputs` is the learnable first
    layer's input count when known."""
    t = np.asarray(thresholds)
    if t.dtype.kind not in "fiu" or t.ndim == 0 or t.shape[-1] == 0:
        raise CheckpointError(f"{where}: thresholds must be a real array of shape (..., B), got {t.dtype} {t.shape}")
    B = t.shape[-1]
    rows = t.reshape(-1, B)
    if rows.shape[0] == 1 and t.ndim <= 2:  # (B,) or (1, B): one set, shared by every feature
        F = num_features
        if F is None and first_inputs is not None and first_inputs % B == 0:
            F = first_inputs // B
        if F is None and t.ndim == 2:
            F = 1  # also what a feature-wise thermometer fitted on one feature saves
        if F is None:
            raise CheckpointError(
                f"{where}: thresholds of shape {t.shape} are shared by all features; "
                "give the number of features (--num-features)"
            )
        t = np.broadcast_to(rows, (F, B))
    elif num_features is not None and num_features != rows.shape[0]:
        raise CheckpointError(f"{where}: thresholds are for {rows.shape[0]} features, --num-features says {num_features}")
    else:
        t = rows
    bad = np.argwhere(~np.isfinite(t.astype(np.float64)))
    if bad.size:
        f, b = bad[0]
        raise CheckpointError(f"{where}: threshold {b} of feature {f} is {t[f, b]}: no float32 threshold is equivalent")
    t32 = _float32_below(t)
    if not np.all(np.isfinite(t32)):
        f, b = np.argwhere(~np.isfinite(t32))[0]
        raise CheckpointError(f"{where}: threshold {b} of feature {f} ({t[f, b]}) is below -FLT_MAX")
    return t32


def _merge_thresholds(t32: np.ndarray):
    """Strictly increasing thresholds per feature and where each torch bit (f*B + b) lands."""
    F, B = t32.shape
    flat, bits_per_feature, bit_map, offset = [], [], np.empty(F * B, dtype=np.int64), 0
    for f in range(F):
        unique, inverse = np.unique(t32[f], return_inverse=True)
        flat.append(unique)
        bits_per_feature.append(unique.size)
        bit_map[f * B : (f + 1) * B] = offset + inverse.reshape(-1)
        offset += unique.size
    return np.concatenate(flat).astype(np.float32), np.asarray(bits_per_feature, dtype=np.int64), bit_map


# ------------------------------------------------------------------------------------------- API
def _class_count(num_classes, class_names, extras: dict, where: str) -> int:
    """GroupSum's `k`: given, from the checkpoint, or implied by the class names."""
    if num_classes is None:
        num_classes = extras.get("num_classes")
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    if num_classes is None:
        raise CheckpointError(f"{where}: GroupSum saves no tensors: give the number of classes (--num-classes)")
    num_classes = int(num_classes)
    if class_names is not None and len(class_names) != num_classes:
        raise CheckpointError(f"{len(class_names)} class names for {num_classes} classes")
    if num_classes < 2:
        raise CheckpointError(f"num_classes {num_classes}: need at least 2")
    return num_classes


def _last_layer(mapping, tables, group_permutation, num_classes: int) -> tuple[LutLayer, int]:
    """The last layer in GroupSum's order (its `randperm` applied), padded with zero bits to equal groups
    as GroupSum pads: (layer, padding LUTs)."""
    if group_permutation is not None:
        perm = _to_numpy(group_permutation, "group_permutation").astype(np.int64).reshape(-1)
        if not np.array_equal(np.sort(perm), np.arange(tables.shape[0])):
            raise CheckpointError(f"group_permutation is not a permutation of the last layer's {tables.shape[0]} LUTs")
        mapping, tables = mapping[perm], tables[perm]
    last = LutLayer.uniform(mapping, tables)
    pad = -tables.shape[0] % num_classes
    if pad:  # GroupSum pads with zero bits: LUTs with no inputs and a table of 0
        last = LutLayer(
            n_inputs=np.concatenate([last.n_inputs, np.zeros(pad, np.int64)]),
            mapping=last.mapping,
            tables=np.concatenate([last.tables, np.zeros(pad, np.uint8)]),
        )
    return last, pad


def _frozen_layers(state, where: str, thresholds, num_features, t_where: str):
    """(merged thresholds, bits per feature, torch thresholds as float32, [(mapping, tables)] per layer)."""
    entries = _split_layers(state, where)
    first_inputs = entries[0]["weights"].shape[0] if "weights" in entries[0] and entries[0]["weights"].ndim == 2 else None
    t32 = _thermometer(thresholds, num_features, first_inputs, t_where)
    merged, bits_per_feature, bit_map = _merge_thresholds(t32)
    layers, prev = [], t32.size
    for i, entry in enumerate(entries, start=1):
        mapping, tables = _layer_mapping(entry, prev, i, where)
        if i == 1:
            mapping = bit_map[mapping]  # torch bit f*B + b -> merged frozen bit
        layers.append((mapping, tables))
        prev = tables.shape[0]
    return merged, bits_per_feature, t32, layers


def import_torch_dwn(
    checkpoint,
    thresholds=None,
    *,
    num_classes: int | None = None,
    class_names=None,
    feature_names=None,
    num_features: int | None = None,
    group_permutation=None,
) -> FrozenDWN:
    """A validated `FrozenDWN` computing what the torch_dwn model computes on float32 inputs.

    `checkpoint`: a path to a `.pt` file, or a state dict (see the module docstring for both formats).
    `thresholds`: the thermometer's `thresholds` (path, array or tensor); may come from the checkpoint
    dict instead. `num_classes` is GroupSum's `k` (implied by `class_names`). `num_features` is needed
    only when one set of thresholds is shared by all features and the first mapping is not learnable.
    `group_permutation`: GroupSum's `randperm`, if one was used.
    """
    where = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "checkpoint"
    state, extras = _read_checkpoint(checkpoint)
    if thresholds is None:
        thresholds = extras.get("thresholds")
        if thresholds is None:
            raise CheckpointError(f"{where}: no thermometer thresholds given (--thermometer)")
    t_where = str(thresholds) if isinstance(thresholds, (str, Path)) else "thresholds"
    thresholds = read_thresholds(thresholds)
    class_names = class_names if class_names is not None else extras.get("class_names")
    feature_names = feature_names if feature_names is not None else extras.get("feature_names")
    num_classes = _class_count(num_classes, class_names, extras, where)
    merged, bits_per_feature, t32, layers = _frozen_layers(state, where, thresholds, num_features, t_where)
    if group_permutation is None:
        group_permutation = extras.get("group_permutation")
    last, pad = _last_layer(*layers[-1], group_permutation, num_classes)
    model = FrozenDWN(
        thresholds=merged,
        bits_per_feature=bits_per_feature,
        layers=tuple([LutLayer.uniform(m, t) for m, t in layers[:-1]] + [last]),
        num_classes=num_classes,
        class_names=None if class_names is None else tuple(class_names),
        feature_names=None if feature_names is None else tuple(feature_names),
        metadata={
            "source": "torch_dwn",
            "torch_dwn_thresholds_per_feature": int(t32.shape[1]),
            "merged_duplicate_thresholds": int(t32.size - merged.size),
            "group_padding_luts": int(pad),
        },
    )
    try:
        return model.validate()
    except DWNFormatError as exc:  # a convention check above missed something: say so in one line
        raise CheckpointError(f"{where}: imported model is invalid: {exc}") from None
