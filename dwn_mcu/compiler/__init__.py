"""Compiling a frozen DWN for a board: lower (passes, form, plan, pack: a `Program`) -> render -> write.
Never imports torch.

Public API:
    lower(model, board, budget=None, name=..., layout=...) -> Program (every decision of a build)
    build_project(model, board, out_dir, name=..., layout=..., selftest_vectors=..., force=...) -> report
    render_model_sources(model, board, name, layout) -> {filename: text}
    compile_host(model, board=..., layout=..., build="strict") -> HostModel with predict(X) / scores(X)
    get_board(name), load_boards()
"""

from .boards import Board, BoardError, get_board, load_boards
from .budget import Budget, BudgetError, budget_for
from .host import HostBuildError, HostModel
from .lower import lower
from .plan import LAYOUTS, PlanError, make_plan
from .program import Lowered, Program
from .project import build_project, render_model_sources, summary
from .write import OutputExistsError


def compile_host(model, board="nano", layout=None, name="dwn_model", build="strict", boards_dir=None) -> HostModel:
    """The generated C for `board`, compiled with the host gcc: an object whose predict/scores run it."""
    sources = render_model_sources(model, board, name, layout, boards_dir)
    return HostModel(sources, name, model.num_classes, build, model.input_type)


__all__ = ["LAYOUTS", "Board", "BoardError", "Budget", "BudgetError", "HostBuildError", "HostModel", "Lowered",
           "OutputExistsError", "PlanError", "Program", "budget_for", "build_project", "compile_host", "get_board",
           "load_boards", "lower", "make_plan", "render_model_sources", "summary"]
