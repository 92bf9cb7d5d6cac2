"""dwn-mcu: Differentiable Weightless Neural Networks, from training to a microcontroller.

Importing this package imports neither numpy nor torch (so that the command line's error boundary,
`dwn_mcu.cli.main`, covers those imports): `load`, `save`, `FrozenDWN` and `LutLayer` are loaded on first
use, and work without torch; so is the trainer, `DWNClassifier`, which needs it.
"""

from .errors import DataError, DWNError, DWNFormatError

__version__ = "0.1.0"

__all__ = ["DWNClassifier", "DWNError", "DWNFormatError", "DataError", "FrozenDWN", "LutLayer", "load", "save"]

_LAZY = {"FrozenDWN": "frozen", "LutLayer": "frozen", "load": "model_file", "save": "model_file",
         "DWNClassifier": "training.classifier"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dwn_mcu' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
