"""Baseline model families held to the same budget as the DWN (XGBoost exported to C)."""
