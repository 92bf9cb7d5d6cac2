"""The verdict of a `compare` report: at each flash budget, and at each baseline's latency, which family
is the most accurate; and the accuracy-latency plot of each budget (every family's candidates at their
priced latency and its chosen models at their measured latency, each with its front).

At budget B the pool is every chosen model of a budget up to B (a model that fits a smaller budget fits
B). The most accurate at B: the highest test accuracy in the pool, ties to fewer cycles. At a baseline's
latency: the most accurate pool model whose median cycles are at most that baseline's (the baseline
itself always qualifies). Latency needs the emulator; a report made with --no-emulate has the flash
verdict only.
"""

from __future__ import annotations

import io

COLORS = {"DWN": "tab:blue", "XGBoost": "tab:orange", "emlearn": "tab:green", "forest": "tab:red"}


def _cycles(e) -> float | None:
    em = e.get("emulator")
    return em["cycles"]["median"] if em and em.get("cycles") else None


def _pool(report: dict, budget: int) -> list:
    return [dict(e, budget=row["budget"]) for row in report["rows"] if row["budget"] <= budget for e in row["entries"]]


def _best(entries: list) -> dict | None:
    key = lambda e: (e["test_accuracy"], -(_cycles(e) or 0.0))  # noqa: E731
    return max(entries, key=key) if entries else None


def _brief(e: dict) -> dict:
    return {"family": e["family"], "shape": e["shape"], "budget": e["budget"], "test_accuracy": e["test_accuracy"],
            "cycles": _cycles(e)}


def verdict(report: dict) -> list:
    """Per budget: the most accurate model, and per baseline entry the most accurate at its latency."""
    out = []
    for row in report["rows"]:
        pool = _pool(report, row["budget"])
        at_latency = []
        for base in row["entries"]:
            limit = _cycles(base)
            if base["family"] == "DWN" or limit is None:
                continue
            best = _best([e for e in pool if _cycles(e) is not None and _cycles(e) <= limit])
            at_latency.append({"baseline": base["family"], "cycles": limit, "best": _brief(best)})
        out.append({"budget": row["budget"], "best": _brief(_best(pool)), "at_latency": at_latency})
    return out


def _cell(b: dict) -> str:
    cyc = f", {b['cycles']:,.0f} cycles" if b["cycles"] is not None else ""
    return f"{b['family']} {100 * b['test_accuracy']:.2f}%{cyc}"


def verdict_lines(report: dict) -> list:
    lines = ["| flash budget B | most accurate (flash <= B) | most accurate at a baseline's latency |",
             "| --- | --- | --- |"]
    for v in report["verdict"]:
        lat = "; ".join(f"at {a['baseline']}'s {a['cycles']:,.0f} cycles: {_cell(a['best'])}" for a in v["at_latency"])
        lines.append(f"| {v['budget']} | {_cell(v['best'])} | {lat or 'not emulated'} |")
    return lines


def _front(points: list) -> list:
    """The accuracy-latency front: points no other point beats on both (faster and at least as accurate)."""
    front, best = [], -1.0
    for c, a in sorted(points, key=lambda p: (p[0], -p[1])):
        if a > best:
            front.append((c, a))
            best = a
    return front


def new_figure():
    """A figure and its axes for the report's plots (matplotlib without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5))


def png_bytes(fig) -> bytes:
    """`fig` as PNG bytes, with no software tag (same report, same bytes); the figure is closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def candidate_points(report: dict, budget: int, family: str) -> list:
    """(priced latency, validation accuracy) of every candidate of `family` searched at a budget up to
    `budget` whose planned flash is within it (a report's candidates without a price are left out)."""
    return [(c["latency"], c["val_accuracy"]) for c in report.get("candidates", ())
            if c["family"] == family and c["budget"] <= budget and c["flash"] <= budget
            and c.get("latency") is not None]


def latency_plot(report: dict, budget: int) -> bytes:
    """At `budget`: each family's candidates (priced latency, validation accuracy; faint) with their front
    (dashed), and its chosen models with flash <= `budget` (median emulated latency, test accuracy) with
    theirs (solid)."""
    fig, ax = new_figure()
    pool = [e for e in _pool(report, budget) if _cycles(e) is not None]
    for family in dict.fromkeys([e["family"] for e in pool] + [c["family"] for c in report.get("candidates", ())]):
        color = COLORS.get(family, "tab:gray")
        cands = candidate_points(report, budget, family)
        if cands:
            ax.scatter([p[0] for p in cands], [p[1] for p in cands], s=8, alpha=0.3, color=color,
                       label=f"{family} candidates (priced, validation)")
            front = _front(cands)
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=color, lw=0.8, ls="--")
        pts = [(_cycles(e), e["test_accuracy"]) for e in pool if e["family"] == family]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=60, color=color, edgecolor="black",
                       label=f"{family} chosen (measured, test)")
            front = _front(pts)
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=color, lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"{report.get('latency_unit', 'cycles')} per inference (candidates priced; chosen: median, emulated)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{report['dataset']} on {report['board']['name']}: models with flash <= {budget} B")
    ax.legend(fontsize=7, loc="lower right")
    return png_bytes(fig)
