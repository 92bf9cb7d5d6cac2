"""dwn-mcu: Differentiable Weightless Neural Networks, from training to a microcontroller.

Importing this package does not import torch: `load`, `save` and `FrozenDWN` work without it. The
trainer, `DWNClassifier`, is loaded on first use.
"""

from .errors import DataError, DWNError, DWNFormatError
from .frozen import FrozenDWN, LutLayer
from .model_file import load, save

__version__ = "0.1.0"

__all__ = ["DWNClassifier", "DWNError", "DWNFormatError", "DataError", "FrozenDWN", "LutLayer", "load", "save"]


def __getattr__(name):
    if name == "DWNClassifier":
        from .training.classifier import DWNClassifier

        return DWNClassifier
    raise AttributeError(f"module 'dwn_mcu' has no attribute {name!r}")
