"""Selection that values speed, the same rule for every model family: among the candidates whose
validation accuracy is within one standard error of the best (the binomial standard error of the best
accuracy on the validation rows, sqrt(p (1 - p) / n)), the fastest by the planner's latency price; ties
to the more accurate, then the smaller, then the earlier. Candidates without a price (an architecture
whose latency is not calibrated) are chosen by accuracy alone: the most accurate, ties to the smaller,
then the earlier.
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


def choose(items: list, rows: int) -> int:
    """Index of the chosen one of `items` = (validation accuracy, latency or None, size), measured on
    `rows` validation rows (see the module docstring). `items` must not be empty."""
    best = most_accurate(items)
    if any(lat is None for _, lat, _ in items):
        return best
    floor = items[best][0] - standard_error(items[best][0], rows)
    pool = [i for i, (acc, _, _) in enumerate(items) if acc >= floor]
    return min(pool, key=lambda i: (items[i][1], -items[i][0], items[i][2], i))
