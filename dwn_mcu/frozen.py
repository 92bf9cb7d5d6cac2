"""The frozen DWN: plain NumPy arrays and the reference inference that defines what a model computes.

This module is the definition (docs/design.md, "Frozen model semantics"). The generated C, on every target,
must agree with `FrozenDWN.scores` bit for bit. It never imports torch.

Semantics, in one place:

* Encoder. Feature `f` has a strictly increasing float32 array of thresholds `T[f]`. Input bit `(f, b)`
  is `x[f] > T[f][b]` compared in float32; NaN compares false. Bits are feature-major: this is layer 0's
  bit vector, of `sum(len(T[f]))` bits.
* Layer `l`. LUT `j` has `n_j` inputs; its mapping row `M[j][k]` indexes the previous bit vector. The
  address is `a = sum_k bit(M[j][k]) << k` (slot 0 is the least significant bit) and the LUT's output bit
  is `table[j][a]`.
* Integer inputs (`input_type` int8, uint8, int16 or uint16). The input is an integer of that type
  and every threshold is an integer in `[min - 1, max]` of the type (stored exactly in float32); bit
  `(f, b)` is `x[f] > T[f][b]` in integers. `input_scale`/`input_offset` record how the integer relates to
  the feature it measures, `feature = x * scale + offset`; inference never uses them.
* Output. The last layer's bits form `C` contiguous equal groups; the score of class `c` is the number of
  ones in group `c` plus `class_bias[c]`; the prediction is the argmax, ties to the lowest class index.
* Learnable reduction (`reduction_layers = R > 0`, docs/learnable-reduction.md). The last `R` layers are
  per-class LUT heads (`dwn_mcu.reduction.validate_reduction`); the last layer has `C * K` LUTs and class
  `c`'s score is `sum_k bit[c*K + k] << k` (least significant first) plus `class_bias[c]`, `K <= 16`.
  `group_size` is then the last DWN layer's group, the reduction's input.

Storage is flat so that LUTs may have different input counts: `n_inputs[j]`, `mapping` (LUT-major,
`sum(n_inputs)` entries) and `tables` (LUT-major, `sum(2**n_inputs)` entries of 0 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DWNFormatError
from .model_limits import MAX_CLASS_BIAS, check_metadata, check_names

#: Largest number of inputs a single LUT may have (a 2**16-entry table is already 8 KiB).
MAX_LUT_INPUTS = 16

#: Most score bits per class a learnable reduction may have (the generated C's score type stays 16-bit).
MAX_SCORE_BITS = 16

#: Input types a model may take, with the range of their values. Integer models keep integer-valued
#: thresholds in the same float32 array: every integer of these types is exact in float32, so the
#: reference's float comparison is the integer comparison the firmware does.
INPUT_TYPES = {
    "float32": None,
    "int8": (-(1 << 7), (1 << 7) - 1),
    "uint8": (0, (1 << 8) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
}


@dataclass(frozen=True, eq=False)
class LutLayer:
    """One layer of lookup tables, stored flat (see the module docstring)."""

    n_inputs: np.ndarray  # (L,) int64, inputs per LUT
    mapping: np.ndarray  # (sum n,) int64, indices into the previous layer's bit vector
    tables: np.ndarray  # (sum 2**n,) uint8, each 0 or 1

    @classmethod
    def uniform(cls, mapping: np.ndarray, tables: np.ndarray) -> "LutLayer":
        """Build a layer whose LUTs all have `n` inputs from `mapping` (L, n) and `tables` (L, 2**n)."""
        mapping = np.asarray(mapping, dtype=np.int64)
        tables = np.asarray(tables)
        num_luts, n = mapping.shape
        if tables.shape != (num_luts, 1 << n):
            raise DWNFormatError(f"tables of shape {tables.shape} do not match mapping {mapping.shape}")
        return cls(
            n_inputs=np.full(num_luts, n, dtype=np.int64),
            mapping=mapping.reshape(-1).copy(),
            tables=tables.astype(np.uint8).reshape(-1),
        )

    @property
    def num_luts(self) -> int:
        return int(self.n_inputs.shape[0])

    @property
    def mapping_offsets(self) -> np.ndarray:
        """Start of each LUT's row in `mapping`, plus the end (L + 1 entries)."""
        return np.concatenate([[0], np.cumsum(self.n_inputs)]).astype(np.int64)

    @property
    def table_offsets(self) -> np.ndarray:
        """Start of each LUT's table in `tables`, plus the end (L + 1 entries)."""
        return np.concatenate([[0], np.cumsum(np.int64(1) << self.n_inputs)]).astype(np.int64)

    def lut_inputs(self, j: int) -> np.ndarray:
        o = self.mapping_offsets
        return self.mapping[o[j] : o[j + 1]]

    def lut_table(self, j: int) -> np.ndarray:
        o = self.table_offsets
        return self.tables[o[j] : o[j + 1]]

    def forward(self, bits: np.ndarray) -> np.ndarray:
        """Output bits (N, L) of this layer for input bits (N, prev_bits), both uint8 0/1."""
        out = np.zeros((bits.shape[0], self.num_luts), dtype=np.uint8)
        m_off, t_off = self.mapping_offsets, self.table_offsets
        for n in np.unique(self.n_inputs):
            luts = np.flatnonzero(self.n_inputs == n)
            idx = m_off[luts][:, None] + np.arange(n)[None, :]  # (Lg, n) positions in `mapping`
            src = self.mapping[idx]
            addr = np.zeros((bits.shape[0], luts.size), dtype=np.int64)
            for k in range(int(n)):
                addr |= bits[:, src[:, k]].astype(np.int64) << k
            out[:, luts] = self.tables[t_off[luts][None, :] + addr]
        return out


@dataclass(frozen=True, eq=False)
class FrozenDWN:
    """A trained DWN as plain arrays. Construct directly or through `load`; call `validate()` after
    building one by hand (the loader and `freeze()` do)."""

    thresholds: np.ndarray  # (total_bits,) float32, feature-major, increasing within a feature
    bits_per_feature: np.ndarray  # (F,) int64
    layers: tuple[LutLayer, ...]
    num_classes: int
    class_bias: np.ndarray = None  # (C,) int64, added to the popcount of each group
    class_names: tuple[str, ...] = None
    feature_names: tuple[str, ...] = None
    metadata: dict = field(default_factory=dict)  # free-form JSON (training settings, accuracy)
    input_type: str = "float32"  # a key of INPUT_TYPES
    input_scale: np.ndarray = None  # (F,) float64, integer models only: feature = x * scale + offset
    input_offset: np.ndarray = None  # (F,) float64
    reduction_layers: int = 0  # R: the last R layers are a learnable reduction (0: popcount output)

    def __post_init__(self):
        # Normalise types so that hand-built models behave like loaded ones.
        set_ = object.__setattr__
        set_(self, "thresholds", np.asarray(self.thresholds, dtype=np.float32))
        set_(self, "bits_per_feature", _exact_int64("bits_per_feature", self.bits_per_feature))
        set_(self, "layers", tuple(self.layers))
        set_(self, "num_classes", int(self.num_classes))
        set_(self, "reduction_layers", int(self.reduction_layers))
        if self.class_bias is None:
            set_(self, "class_bias", np.zeros(self.num_classes, dtype=np.int64))
        else:
            set_(self, "class_bias", _exact_int64("class_bias", self.class_bias))
        if self.class_names is None:
            set_(self, "class_names", tuple(str(c) for c in range(self.num_classes)))
        else:
            set_(self, "class_names", tuple(str(c) for c in self.class_names))
        if self.input_type != "float32":
            if self.input_scale is None:
                set_(self, "input_scale", np.ones(self.num_features))
            if self.input_offset is None:
                set_(self, "input_offset", np.zeros(self.num_features))
            set_(self, "input_scale", np.asarray(self.input_scale, dtype=np.float64))
            set_(self, "input_offset", np.asarray(self.input_offset, dtype=np.float64))
        if self.feature_names is None:
            set_(self, "feature_names", tuple(f"x{i}" for i in range(self.num_features)))
        else:
            set_(self, "feature_names", tuple(str(c) for c in self.feature_names))

    # ----------------------------------------------------------------------------------- shape facts
    @property
    def num_features(self) -> int:
        return int(self.bits_per_feature.shape[0])

    @property
    def num_input_bits(self) -> int:
        return int(self.thresholds.shape[0])

    @property
    def feature_of_bit(self) -> np.ndarray:
        """Feature index of every input bit (total_bits,)."""
        return np.repeat(np.arange(self.num_features), self.bits_per_feature)

    @property
    def feature_thresholds(self) -> list[np.ndarray]:
        """Thresholds of each feature, as a list of views."""
        ends = np.cumsum(self.bits_per_feature)
        return np.split(self.thresholds, ends[:-1]) if self.num_features else []

    @property
    def dwn_layers(self) -> tuple[LutLayer, ...]:
        """The LUT layers before the reduction (all of them for a popcount model)."""
        return self.layers[: len(self.layers) - self.reduction_layers]

    @property
    def reduction(self) -> tuple[LutLayer, ...]:
        """The learnable reduction's layers (empty for a popcount model)."""
        return self.layers[len(self.layers) - self.reduction_layers :]

    @property
    def group_size(self) -> int:
        """Bits per class of the last DWN layer (the popcount's input, or the reduction's)."""
        return self.dwn_layers[-1].num_luts // self.num_classes

    @property
    def score_bits(self) -> int:
        """K, the binary score bits per class of a reduction model; 0 for a popcount model."""
        return self.layers[-1].num_luts // self.num_classes if self.reduction_layers else 0

    @property
    def score_range(self) -> tuple[int, int]:
        """Smallest and largest score any class can have (the C score type must hold both, and 0)."""
        top = (1 << self.score_bits) - 1 if self.reduction_layers else self.group_size
        return int(min(0, self.class_bias.min())), int(top + max(0, self.class_bias.max()))

    def size_bits(self) -> dict:
        """Information content: table bits, mapping bits (ceil(log2 inputs) per entry), threshold bits."""
        prev = self.num_input_bits
        table_bits = mapping_bits = 0
        for layer in self.layers:
            table_bits += int(layer.tables.size)
            mapping_bits += int(layer.mapping.size) * max(1, int(np.ceil(np.log2(max(prev, 2)))))
            prev = layer.num_luts
        threshold_bits = 32 * self.num_input_bits
        return {
            "table_bits": table_bits,
            "mapping_bits": mapping_bits,
            "threshold_bits": threshold_bits,
            "total_bits": table_bits + mapping_bits + threshold_bits,
        }

    # ----------------------------------------------------------------------------- reference inference
    def _as_input(self, X) -> np.ndarray:
        """Inputs as float32 (N, F). Integer models check that every value is an integer of their type
        (exact in float32, so the comparison below is the integer comparison)."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.num_features:
            raise ValueError(f"expected inputs of shape (N, {self.num_features}), got {X.shape}")
        limits = INPUT_TYPES[self.input_type]
        if limits is not None:
            if X.dtype.kind not in "iu":
                if not np.all(np.isfinite(X)) or not np.array_equal(X, np.round(X)):
                    raise ValueError(f"a {self.input_type} model takes integer inputs")
            if X.size and (X.min() < limits[0] or X.max() > limits[1]):
                raise ValueError(f"inputs outside the {self.input_type} range {limits[0]}..{limits[1]}")
        return X.astype(np.float32)

    def quantize(self, X) -> np.ndarray:
        """Float features to this integer model's inputs: `round((x - offset) / scale)`, clipped to the
        type's range; NaN becomes the type's minimum (every bit 0 but those whose threshold is below it)."""
        limits = INPUT_TYPES[self.input_type]
        if limits is None:
            return np.asarray(X, dtype=np.float32)
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            q = np.round((X - self.input_offset) / self.input_scale)
        q = np.where(np.isnan(q), limits[0], np.clip(q, limits[0], limits[1]))
        return q.astype(np.int64)

    def encode(self, X) -> np.ndarray:
        """Layer 0's bit vector (N, total_bits), uint8: `x[f] > T[f][b]` in float32, NaN gives 0."""
        X = self._as_input(X)
        with np.errstate(invalid="ignore"):
            return (X[:, self.feature_of_bit] > self.thresholds[None, :]).astype(np.uint8)

    def layer_bits(self, X) -> list[np.ndarray]:
        """Bit vectors of every layer: [encoder bits, layer 1 bits, ..., last layer bits]."""
        bits = [self.encode(X)]
        for layer in self.layers:
            bits.append(layer.forward(bits[-1]))
        return bits

    def scores(self, X) -> np.ndarray:
        """Per-class scores (N, C), int64: popcount of each group (or, with a reduction, each class's K
        last bits read LSB-first as an unsigned number) plus the class bias."""
        out = self.layer_bits(X)[-1]
        if self.reduction_layers:
            from .reduction import binary_scores  # reduction.py imports LutLayer from here

            return binary_scores(out, self.num_classes) + self.class_bias[None, :]
        counts = out.reshape(out.shape[0], self.num_classes, -1).sum(axis=2, dtype=np.int64)
        return counts + self.class_bias[None, :]

    def predict(self, X) -> np.ndarray:
        """Class indices (N,): argmax of the scores, ties to the lowest index."""
        return np.argmax(self.scores(X), axis=1)

    # ------------------------------------------------------------------------------------- validation
    def validate(self) -> "FrozenDWN":
        """Check every shape, dtype, range and ordering; raise DWNFormatError naming the field."""
        self._validate_encoder()
        self._validate_layers()
        self._validate_output()
        return self

    def _validate_encoder(self) -> None:
        if self.thresholds.ndim != 1 or self.bits_per_feature.ndim != 1:
            _fail("thresholds, bits_per_feature: must be 1-D")
        if not np.all(np.isfinite(self.thresholds)):
            _fail("thresholds: contains NaN or infinity")
        if not isinstance(self.input_type, str) or self.input_type not in INPUT_TYPES:
            _fail(f"input_type: {self.input_type!r} is not one of {', '.join(INPUT_TYPES)}")
        limits = INPUT_TYPES[self.input_type]
        if limits is not None:
            t = self.thresholds
            if not np.array_equal(t, np.round(t)) or (t.size and (t.min() < limits[0] - 1 or t.max() > limits[1])):
                _fail(f"thresholds: a {self.input_type} model needs integer thresholds in {limits[0] - 1}..{limits[1]}")
            for name in ("input_scale", "input_offset"):
                a = getattr(self, name)
                if a.shape != (self.num_features,) or not np.all(np.isfinite(a)):
                    _fail(f"{name}: needs {self.num_features} finite values")
            if np.any(self.input_scale <= 0):
                _fail("input_scale: must be positive")
        if np.any(self.bits_per_feature < 0) or np.any(self.bits_per_feature > self.num_input_bits):
            _fail(f"bits_per_feature: a count outside 0..{self.num_input_bits} (the number of thresholds)")
        if int(self.bits_per_feature.sum()) != self.num_input_bits:
            _fail(
                f"bits_per_feature: sums to {int(self.bits_per_feature.sum())}, "
                f"but there are {self.num_input_bits} thresholds"
            )
        ends = np.cumsum(self.bits_per_feature)
        later = np.flatnonzero(self.thresholds[1:] <= self.thresholds[:-1]) + 1  # bit not above its predecessor
        later = later[~np.isin(later, ends)]  # a feature's first bit may be anything
        if later.size:
            _fail(f"thresholds: feature {int(np.searchsorted(ends, later[0], side='right'))} is not strictly increasing")

    def _validate_layers(self) -> None:
        if self.num_classes < 2:
            _fail(f"num_classes: {self.num_classes}, need at least 2")
        if not self.layers:
            _fail("layers: a model needs at least one LUT layer")
        prev = self.num_input_bits
        for i, layer in enumerate(self.layers, start=1):
            n = layer.n_inputs
            if n.dtype.kind not in "iu" or layer.mapping.dtype.kind not in "iu" or layer.tables.dtype.kind not in "iub":
                _fail(f"layer {i}: n_inputs, mapping and tables must be integer arrays")
            if n.ndim != 1 or n.size == 0:
                _fail(f"layer {i}: n_inputs must be a non-empty 1-D array")
            if np.any(n < 0) or np.any(n > MAX_LUT_INPUTS):
                _fail(f"layer {i}: n_inputs outside 0..{MAX_LUT_INPUTS}")
            if layer.mapping.shape != (int(n.sum()),):
                _fail(f"layer {i}: mapping has {layer.mapping.size} entries, n_inputs needs {int(n.sum())}")
            if layer.mapping.size and (layer.mapping.min() < 0 or layer.mapping.max() >= prev):
                _fail(f"layer {i}: mapping index out of range 0..{prev - 1}")
            need = int((np.int64(1) << n).sum())
            if layer.tables.shape != (need,):
                _fail(f"layer {i}: tables have {layer.tables.size} entries, n_inputs needs {need}")
            if layer.tables.size and layer.tables.max() > 1:
                _fail(f"layer {i}: table entries must be 0 or 1")
            prev = layer.num_luts

    def _validate_output(self) -> None:
        if not 0 <= self.reduction_layers < len(self.layers):
            _fail(f"reduction_layers: {self.reduction_layers}, need 0..{len(self.layers) - 1} (at least one DWN layer)")
        last_dwn = self.dwn_layers[-1].num_luts
        if last_dwn % self.num_classes:
            _fail(f"layers: last DWN layer has {last_dwn} LUTs, not a multiple of {self.num_classes} classes")
        if self.reduction_layers:
            from .reduction import validate_reduction

            K = validate_reduction(self.reduction, self.num_classes, self.group_size)
            if K > MAX_SCORE_BITS:
                _fail(f"reduction: {K} score bits per class, at most {MAX_SCORE_BITS}")
        if self.class_bias.shape != (self.num_classes,):
            _fail(f"class_bias: shape {self.class_bias.shape}, expected ({self.num_classes},)")
        if self.class_bias.size and (self.class_bias.min() < -MAX_CLASS_BIAS or self.class_bias.max() > MAX_CLASS_BIAS):
            _fail(f"class_bias: a value outside -{MAX_CLASS_BIAS}..{MAX_CLASS_BIAS} (scores must fit int32)")
        if len(self.class_names) != self.num_classes:
            _fail(f"class_names: {len(self.class_names)} names for {self.num_classes} classes")
        if len(self.feature_names) != self.num_features:
            _fail(f"feature_names: {len(self.feature_names)} names for {self.num_features} features")
        check_names("class_names", self.class_names)
        check_names("feature_names", self.feature_names)
        check_metadata(self.metadata)


def _fail(message: str):
    raise DWNFormatError(message)


def _exact_int64(name: str, values) -> np.ndarray:
    """`values` as int64, refusing any value that int64 would change (a uint64 above 2**63 - 1, a fraction)."""
    a = np.asarray(values)
    if a.dtype.kind not in "iubf":
        raise DWNFormatError(f"{name}: dtype {a.dtype}, expected integers")
    with np.errstate(invalid="ignore", over="ignore"):
        b = a.astype(np.int64)
        exact = a.dtype.kind in "ib" or (a.dtype.kind == "u" and a.dtype.itemsize < 8) or np.array_equal(a, b)
    if not exact or (a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max):
        raise DWNFormatError(f"{name}: values that int64 cannot hold exactly")
    return b
