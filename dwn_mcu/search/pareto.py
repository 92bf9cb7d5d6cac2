"""The accuracy-flash-latency front of a search: the trained trials that fit the budgets and that no
other such trial dominates (at least as accurate, as small and as fast, and better in one). Families
share one front, as they share one board and one budget: the comparison is the front itself.
A trial whose latency is not priced (an architecture without calibration) is compared on the other two."""

from __future__ import annotations

import math

from .records import to_csv


def _point(r: dict) -> tuple:
    latency = r["latency"] if r["latency"] is not None else 0
    return (-r["val_accuracy"], r["flash"], latency)  # all three: smaller is better


def eligible(records: list) -> list:
    return [r for r in records if r["status"] == "ok" and r["fits"] and not math.isnan(r["val_accuracy"])]


def dominates(a: tuple, b: tuple) -> bool:
    return all(x <= y for x, y in zip(a, b)) and a != b


def front(records: list) -> list:
    """The non-dominated fitting trials, most accurate first (then smaller, then lower trial number);
    of trials with equal metrics, the first by trial number."""
    pool = sorted(eligible(records), key=lambda r: (_point(r), r["number"]))
    kept, seen = [], set()
    for r in pool:
        p = _point(r)
        if p in seen or any(dominates(_point(o), p) for o in pool):
            continue
        seen.add(p)
        kept.append(r)
    return kept


def front_csv(records: list) -> bytes:
    """pareto.csv: the front's records, in trials.csv's columns, by trial number."""
    return to_csv(front(records))


def plot(records: list, flash_budget: int, unit: str) -> bytes:
    """pareto.png: validation accuracy against flash of every fitting trial, coloured by priced latency,
    one marker per family; the front circled and joined in flash order."""
    from ..compare_verdict import new_figure, png_bytes

    fig, ax = new_figure()
    pool, best = eligible(records), front(records)
    colour = [r["latency"] or 0 for r in pool]
    for family, marker in (("dwn", "o"), ("xgboost", "s")):
        idx = [i for i, r in enumerate(pool) if r["family"] == family]
        if idx:
            sc = ax.scatter([pool[i]["flash"] for i in idx], [pool[i]["val_accuracy"] for i in idx],
                            c=[colour[i] for i in idx], marker=marker, cmap="viridis", label=family,
                            vmin=min(colour), vmax=max(colour) or 1)
    if pool:
        fig.colorbar(sc, ax=ax, label=f"priced latency ({unit})")
    line = sorted(best, key=lambda r: r["flash"])
    ax.plot([r["flash"] for r in line], [r["val_accuracy"] for r in line], "r-", lw=0.8)
    ax.scatter([r["flash"] for r in best], [r["val_accuracy"] for r in best], s=120, facecolors="none",
               edgecolors="r", label="front")
    ax.axvline(flash_budget, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("model flash (bytes, planned)")
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"search: {len(pool)} fitting trials, {len(best)} on the front")
    ax.legend(loc="lower right")
    return png_bytes(fig)
