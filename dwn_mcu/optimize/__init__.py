"""Exact netlist passes over a frozen DWN: same class and scores for every input, fewer bits.

`optimize(model) -> (model, report)` runs them all to a fixed point; each pass is also a pure function
FrozenDWN -> FrozenDWN of its own module. (The training-time float16 threshold grid is an encoding:
`dwn_mcu.threshold_grid`, beside the thermometer.)
"""

from .constants import fold_constant_luts
from .dead import remove_dead_luts
from .dont_care import remove_dont_care_inputs
from .duplicates import merge_duplicate_luts
from .pipeline import PASSES, OptimizeReport, census, optimize
from .renumber import renumber
from .uniform import input_count_forms, make_layers_uniform
from .unused_thresholds import drop_unused_thresholds, ignored_features

__all__ = [
    "PASSES", "OptimizeReport", "census", "drop_unused_thresholds", "fold_constant_luts",
    "ignored_features", "input_count_forms", "make_layers_uniform", "merge_duplicate_luts", "optimize", "remove_dead_luts",
    "remove_dont_care_inputs", "renumber",
]
