"""`build --flash-budget/--ram-budget` and the budget a model was trained for: a model over the budget is
refused with the one-line budget error and nothing written; one that fits is planned exactly as the
budget search plans it (`budget_search.price`); a model trained for a board's budget builds for it."""

import json

import pytest

from dwn_mcu import load, save
from dwn_mcu.budget_search import price
from dwn_mcu.cli import main
from dwn_mcu.compiler import Budget, BudgetError, build_project, get_board, make_plan
from dwn_mcu.synthetic import random_model

NANO = get_board("nano")
RAM = NANO.ram - NANO.sketch_ram


def _model(luts=(60,), **meta):
    model = random_model(seed=1, num_features=4, bits_per_feature=8, luts=luts, n=6, num_classes=3)
    model.metadata.update(meta)
    return model


def _report(out):
    return json.loads((out / "dwn_report.json").read_text())


def test_build_over_a_flash_budget_fails_with_one_line(tmp_path, capsys):
    path = tmp_path / "big.dwn"
    save(_model(luts=(300,)), path)
    assert price(load(path), NANO, 2048, RAM)[4] is False  # the search's planner agrees: it does not fit
    out = tmp_path / "out"
    code = main(["build", str(path), "--board", "nano", "-o", str(out), "--flash-budget", "2048"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "model does not fit a budget of 2048 bytes of flash" in err and "> budget 2048 bytes" in err
    assert not out.exists()


@pytest.mark.parametrize("flash, ram", [(3000, RAM), (26520, 200), (2048, 100)])
def test_build_under_a_budget_is_planned_as_the_search_plans_it(tmp_path, flash, ram):
    path = tmp_path / "m.dwn"
    save(_model(), path)
    form, layout, model_flash, model_ram, fits = price(load(path), NANO, flash, ram)
    assert fits
    out = tmp_path / "out"
    assert main(["build", str(path), "--board", "nano", "-o", str(out), "--flash-budget", str(flash),
                 "--ram-budget", str(ram)]) == 0
    report = _report(out)
    assert (report["layout"], report["flash"]["model"], report["ram"]["model"]) == (layout, model_flash, model_ram)
    assert report["budget"] == {"flash": flash, "ram": ram}
    assert load(out / "dwn" / "model.dwn").layers[0].n_inputs.tolist() == form.layers[0].n_inputs.tolist()


def test_a_budget_changes_the_layout_the_board_alone_would_choose(tmp_path):
    whole = build_project(_model(), NANO, tmp_path / "whole")
    tight = build_project(_model(), NANO, tmp_path / "tight", budget=Budget(3000, RAM))
    assert whole["layout"] == "unrolled" and whole["flash"]["model"] > 3000
    assert tight["layout"] == "table" and tight["flash"]["model"] <= 3000
    assert "budget" not in whole  # a build without a budget reports as before


def test_model_trained_for_a_budget_builds_for_it_by_default(tmp_path):
    trained = _model(board="nano", flash_budget=3000, ram_budget=RAM)
    report = build_project(trained, NANO, tmp_path / "a")
    assert report["budget"] == {"flash": 3000, "ram": RAM} and report["layout"] == "table"
    other = _model(board="uno", flash_budget=3000, ram_budget=RAM)  # trained for another board: not applied
    assert "budget" not in build_project(other, NANO, tmp_path / "b")
    # an explicit budget wins over the metadata
    assert build_project(trained, NANO, tmp_path / "c", budget=Budget(26520, RAM))["layout"] == "unrolled"


def test_plan_checks_the_model_share_against_the_budget():
    model = _model()
    plan = make_plan(model, NANO, layout="table", budget=Budget(NANO.flash, RAM))
    assert plan == make_plan(model, NANO, layout="table", budget=Budget(plan.model_flash, RAM))
    # a byte less: the thresholds go back into a flash table (plan.encoder_search), which fits
    smaller = make_plan(model, NANO, layout="table", budget=Budget(plan.model_flash - 1, RAM))
    assert (plan.encoder_search, smaller.encoder_search) == ("immediate", "table")
    assert smaller.model_flash < plan.model_flash
    with pytest.raises(BudgetError, match=r"model flash \d+ > budget \d+ bytes"):
        make_plan(model, NANO, layout="table", budget=Budget(smaller.model_flash - 1, RAM))
    with pytest.raises(BudgetError, match=r"model RAM \d+ > budget 10 bytes"):
        make_plan(model, NANO, layout="table", budget=Budget(NANO.flash, 10))


def test_nonpositive_budget_is_one_line(tmp_path, capsys):
    path = tmp_path / "m.dwn"
    save(_model(), path)
    assert main(["build", str(path), "--board", "nano", "-o", str(tmp_path / "o"), "--ram-budget", "0"]) == 2
    assert "leaves nothing for a model" in capsys.readouterr().err
