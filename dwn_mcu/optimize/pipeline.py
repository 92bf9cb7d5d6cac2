"""`optimize(model) -> (model, report)`: run every pass, in order, until none changes the model, then
(unless `uniform=False`) pad back to one input count the layers where mixed counts cost the compiler
more than they save (`uniform.py`; reported as `uniform_layers`, usually adding bits).

Each pass is exact (same class and same scores for every float32 input, NaN and infinities included),
so their composition is too. The report counts, for each pass summed over the rounds, what it removed:
thresholds, features read, LUTs, LUT inputs (mapping entries), table bits and model bits
(`FrozenDWN.size_bits`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..frozen import FrozenDWN
from .constants import fold_constant_luts
from .dead import remove_dead_luts
from .dont_care import remove_dont_care_inputs
from .duplicates import merge_duplicate_luts
from .renumber import renumber
from .uniform import make_layers_uniform
from .unused_thresholds import drop_unused_thresholds, ignored_features

PASSES = (
    ("unused_thresholds", drop_unused_thresholds),
    ("dont_care_inputs", remove_dont_care_inputs),
    ("constant_luts", fold_constant_luts),
    ("dead_luts", remove_dead_luts),
    ("duplicate_luts", merge_duplicate_luts),
    ("renumber", renumber),
)
MAX_ROUNDS = 50  # a guard: every pass is idempotent and canonical, so rounds stop when nothing shrinks


def census(model: FrozenDWN) -> dict:
    """What a model holds, in the units the report counts."""
    read = np.zeros(model.num_features, dtype=bool)
    read[model.feature_of_bit[model.layers[0].mapping]] = True
    return {
        "thresholds": model.num_input_bits,
        "features_read": int(read.sum()),
        "luts": sum(layer.num_luts for layer in model.layers),
        "lut_inputs": sum(int(layer.mapping.size) for layer in model.layers),
        **model.size_bits(),
    }


def _fingerprint(model: FrozenDWN) -> bytes:
    parts = [model.thresholds.tobytes(), model.bits_per_feature.tobytes(), model.class_bias.tobytes()]
    for layer in model.layers:
        parts += [layer.n_inputs.tobytes(), b"|", layer.mapping.tobytes(), b"|", layer.tables.tobytes()]
    return b"/".join(parts)


@dataclass
class OptimizeReport:
    before: dict
    after: dict
    removed: dict  # pass name -> {census key: amount removed (negative: added), summed over rounds}
    rounds: int
    ignored_features: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"before": self.before, "after": self.after, "removed": self.removed,
                "rounds": self.rounds, "ignored_features": self.ignored_features}

    def summary(self) -> str:
        b, a = self.before["total_bits"], self.after["total_bits"]
        lines = [f"model bits {b} -> {a} ({100 * (b - a) / max(b, 1):.1f}% fewer) in {self.rounds} rounds"]
        for name, gone in self.removed.items():
            parts = [f"{-v:+d} {k.replace('_', ' ')}" for k, v in gone.items() if v and k != "total_bits"]
            what = ", ".join(parts) if parts else "nothing"
            lines.append(f"  {name:<18} {-gone['total_bits']:+d} bits: {what}")
        if self.ignored_features:
            lines.append(f"  ignored features ({len(self.ignored_features)}): {', '.join(self.ignored_features)}")
        return "\n".join(lines)


def optimize(model: FrozenDWN, uniform: bool = True) -> tuple[FrozenDWN, OptimizeReport]:
    """The optimized model (exact) and a report of what each pass removed.

    A model with a learnable reduction is returned unchanged (zero rounds): the passes assume the last
    layer is popcount groups (constant LUTs fold into `class_bias` as 1, renumbering sorts a group's
    LUTs) and that any LUT may be removed, which would break the reduction's per-class block shapes."""
    model.validate()
    before = census(model)
    if model.reduction_layers:
        return model, OptimizeReport(before, dict(before), {}, 0, ignored_features(model))
    removed = {name: {k: 0 for k in before} for name, _ in PASSES}
    rounds = 0
    while rounds < MAX_ROUNDS:
        rounds += 1
        start = _fingerprint(model)
        for name, run in PASSES:
            old = census(model)
            model = run(model)
            new = census(model)
            for k in old:
                removed[name][k] += old[k] - new[k]
        if _fingerprint(model) == start:
            break
    if uniform:
        old, model = census(model), make_layers_uniform(model)
        removed["uniform_layers"] = {k: old[k] - v for k, v in census(model).items()}
    report = OptimizeReport(before, census(model), removed, rounds, ignored_features(model))
    return model, report
