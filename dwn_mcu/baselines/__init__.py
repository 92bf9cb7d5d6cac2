"""Baseline model families held to the same budget as the DWN (XGBoost exported to C)."""

from ..errors import DWNError


class BaselineError(DWNError):
    """A baseline model cannot be trained, exported or fitted to the budget the user asked for."""


def nothing_fits(what: str, budget_bytes: int, latency_budget, candidates) -> BaselineError:
    """The one-line error of a search none of whose `candidates` (each with `size_bytes` and a priced
    `latency`, or None) fits: what the smallest and, under a latency budget, the fastest tried take, so
    the user sees which budget binds."""
    smallest = min(c.size_bytes for c in candidates)
    if latency_budget is None:
        return BaselineError(f"no {what} model fits in {budget_bytes} bytes (the smallest tried takes {smallest} "
                             f"bytes)")
    priced = [c.latency for c in candidates if c.latency is not None]
    fastest = f", the fastest {min(priced)} priced" if priced else ""
    return BaselineError(f"no {what} model fits in {budget_bytes} bytes within {latency_budget} (priced latency): "
                         f"the smallest tried takes {smallest} bytes{fastest}")
