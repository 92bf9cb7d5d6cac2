"""compare's verdict: at each budget the most accurate model with flash up to it (smaller budgets' picks
included), and at each baseline's latency the most accurate model no slower than it."""

from dwn_mcu.compare_verdict import _front, candidate_points, latency_plot, verdict, verdict_lines


def _e(family, acc, cycles):
    return {"family": family, "shape": f"{family} model", "test_accuracy": acc,
            "emulator": {"cycles": {"median": cycles}}}


REPORT = {"rows": [
    {"budget": 2048, "entries": [_e("DWN", 0.80, 9000), _e("XGBoost", 0.75, 4000), _e("emlearn", 0.78, 300)]},
    {"budget": 8192, "entries": [_e("DWN", 0.79, 30000), _e("XGBoost", 0.84, 20000), _e("emlearn", 0.82, 1200)]},
]}


def test_verdict_per_budget_and_per_baseline_latency():
    small, big = verdict(REPORT)
    assert small["best"]["family"] == "DWN" and small["best"]["test_accuracy"] == 0.80
    lat = {a["baseline"]: a["best"] for a in small["at_latency"]}
    assert set(lat) == {"XGBoost", "emlearn"}  # the DWN is not a baseline
    assert lat["XGBoost"]["family"] == "emlearn"  # within 4000 cycles: emlearn 78% beats XGBoost 75%
    assert lat["emlearn"]["family"] == "emlearn"
    assert big["best"]["family"] == "XGBoost" and big["best"]["budget"] == 8192
    lat = {a["baseline"]: a["best"] for a in big["at_latency"]}
    # at emlearn's 1,200 cycles the pool holds the 2 KB emlearn (300 cycles, 78%) and the 8 KB one (82%)
    assert lat["emlearn"]["test_accuracy"] == 0.82
    # at XGBoost's 20,000 cycles the 2 KB DWN (80%, 9,000 cycles) qualifies, but XGBoost is more accurate
    assert lat["XGBoost"]["family"] == "XGBoost"
    REPORT["verdict"] = [small, big]
    lines = verdict_lines(REPORT)
    assert lines[2].startswith("| 2048 | DWN 80.00%, 9,000 cycles |") and "at XGBoost's 4,000 cycles: emlearn" in lines[2]


def test_front_keeps_only_undominated_points():
    assert _front([(100, 0.7), (50, 0.8), (200, 0.9), (300, 0.85), (50, 0.6)]) == [(50, 0.8), (200, 0.9)]


def test_verdict_without_emulation_has_the_flash_verdict_only():
    rows = [{"budget": 2048, "entries": [{"family": "DWN", "shape": "s", "test_accuracy": 0.7},
                                         {"family": "emlearn", "shape": "t", "test_accuracy": 0.72}]}]
    (v,) = verdict({"rows": rows})
    assert v["best"]["family"] == "emlearn" and v["best"]["cycles"] is None and v["at_latency"] == []


def test_latency_plot_shows_each_familys_candidates_within_the_budget():
    cands = [{"budget": 2048, "family": "emlearn", "flash": 900, "val_accuracy": 0.7, "latency": 250},
             {"budget": 2048, "family": "emlearn", "flash": 3000, "val_accuracy": 0.9, "latency": 400},  # over 2 KB
             {"budget": 8192, "family": "emlearn", "flash": 3000, "val_accuracy": 0.8, "latency": 900},
             {"budget": 2048, "family": "forest", "flash": 500, "val_accuracy": 0.75, "latency": 90},
             {"budget": 2048, "family": "DWN", "flash": 1500, "val_accuracy": 0.8, "latency": None}]  # not priced
    report = {**REPORT, "candidates": cands, "dataset": "d", "board": {"name": "b"}}
    assert candidate_points(report, 2048, "emlearn") == [(250, 0.7)]
    assert candidate_points(report, 8192, "emlearn") == [(250, 0.7), (400, 0.9), (900, 0.8)]
    assert candidate_points(report, 2048, "forest") == [(90, 0.75)] and candidate_points(report, 8192, "DWN") == []
    png = latency_plot(report, 2048)  # forest has candidates but no chosen entry here: drawn all the same
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == latency_plot(report, 2048)  # deterministic bytes
