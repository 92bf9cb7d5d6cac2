"""Baseline model families held to the same budget as the DWN (XGBoost exported to C)."""

from ..errors import DWNError


class BaselineError(DWNError):
    """A baseline model cannot be trained, exported or fitted to the budget the user asked for."""
