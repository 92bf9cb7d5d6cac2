"""Selection that values speed, the same rule for every model family: among the candidates whose
validation accuracy is within one standard error of the best (the binomial standard error of the best
accuracy on the validation rows, sqrt(p (1 - p) / n)), the fastest by the planner's latency price; ties
to the more accurate, then the smaller, then the earlier. Candidates without a price (an architecture
whose latency is not calibrated) are chosen by accuracy alone: the most accurate, ties to the smaller,
then the earlier.

Under a latency budget the user set, every candidate already meets it, and the user has said what speed
they need: the most accurate is chosen ("at any flash and latency budget, the most accurate model that
meets both"). Trading accuracy below the budget for speed nobody asked for lost test accuracy there: on
ten latency-matched DWN searches (BENCHMARKS.md, "The most accurate within a latency budget") the
fastest within one standard error was on average 1.4 points less accurate on the test split.
"""

from __future__ import annotations

import math


def standard_error(accuracy: float, rows: int) -> float:
    """The binomial standard error of an accuracy measured on `rows` rows."""
    return math.sqrt(max(accuracy * (1.0 - accuracy), 0.0) / rows) if rows > 0 else 0.0


def most_accurate(items: list) -> int:
    """Index of the most accurate of `items` = (accuracy, latency or None, size) tuples; ties to the
    smaller, then the earlier."""
    return min(range(len(items)), key=lambda i: (-items[i][0], items[i][2], i))


def choose(items: list, rows: int, latency_budget=None) -> int:
    """Index of the chosen one of `items` = (validation accuracy, latency or None, size), measured on
    `rows` validation rows, all within `latency_budget` when one is given (see the module docstring).
    `items` must not be empty."""
    best = most_accurate(items)
    if latency_budget is not None or any(lat is None for _, lat, _ in items):
        return best
    floor = items[best][0] - standard_error(items[best][0], rows)
    pool = [i for i, (acc, _, _) in enumerate(items) if acc >= floor]
    return min(pool, key=lambda i: (items[i][1], -items[i][0], items[i][2], i))


def rule(latency_budget=None) -> str:
    """What `choose` picks, in words, for reports."""
    if latency_budget is not None:
        return "the most accurate on the validation rows, all within the latency budget"
    return ("the fastest (priced) within one binomial standard error of the most accurate on the validation "
            "rows")
