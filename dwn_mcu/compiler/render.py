"""Render: a `Program` in, `{relative path: text}` out, through the Jinja2 templates in
`firmware_templates/`. No C is assembled in Python and nothing is decided here: the program carries every
choice (types, layout, fast paths, packed arrays); this module only hands it to the templates."""

from __future__ import annotations

import numpy as np

from .. import __version__
from ..frozen import INPUT_TYPES, FrozenDWN
from .cgen import environment
from .identity import model_identity
from .program import Program

BAUD = 115200


def _context(program: Program) -> dict:
    model, plan = program.model, program.plan
    return {
        "name": plan.name,
        "P": plan.prefix,
        "plan": plan,
        "board": plan.board,
        "model": model,
        "version": __version__,
        "class_names": model.class_names,
        "encoder": {"thresholds": program.encoder.keys.tolist(), "counts": program.encoder.counts.tolist(),
                    "searches": program.encoder.searches},
        "packed": program.layers,
        "score_range": model.score_range,
        "out_group": plan.out_group,
        "baud": BAUD,
        "limits": INPUT_TYPES[model.input_type],  # integer models: the input type's range
    }


def _render(template: str, context: dict) -> str:
    return environment().get_template(template).render(context)


def render_library(program: Program) -> dict[str, str]:
    """The model library alone: `{NAME.h, NAME.c}`."""
    ctx, name = _context(program), program.plan.name
    return {f"{name}.h": _render("model.h.j2", ctx), f"{name}.c": _render("model.c.j2", ctx)}


def selftest_context(model: FrozenDWN, vectors) -> dict:
    """Test vectors with the reference's classes and scores, for the sketch: float32 bit patterns
    (`bits`) for a float model, the integers themselves (`values`) for an integer model."""
    if model.input_type == "float32":
        X = np.asarray(vectors, dtype=np.float32).reshape(-1, model.num_features)
        inputs = {"bits": X.view(np.uint32).tolist()}
    else:
        X = np.asarray(vectors, dtype=np.int64).reshape(-1, model.num_features)
        inputs = {"values": X.tolist()}
    return {
        **inputs,
        "count": int(X.shape[0]),
        "classes": model.predict(X).tolist(),
        "scores": model.scores(X).tolist(),
    }


def render_project(program: Program, selftest_vectors=None, test_vectors=None) -> dict[str, str]:
    """Every text file of the PlatformIO project, by path relative to the project folder; with
    `test_vectors`, the model's own test for `pio test` (test/) too."""
    ctx, plan, model = _context(program), program.plan, program.model
    ctx["selftest"] = None if selftest_vectors is None else selftest_context(model, selftest_vectors)
    ctx["identity"] = model_identity(model)
    lib = f"lib/{plan.name}"
    tests = {}
    if test_vectors is not None:
        ctx["test"] = selftest_context(model, test_vectors)
        tests = {"test/test_model/test_main.cpp": _render("pio_test/test_main.cpp.j2", ctx),
                 "test/test_custom_runner.py": _render("pio_test/test_custom_runner.py.j2", ctx)}
    return {
        **tests,
        "platformio.ini": _render("platformio.ini.j2", ctx),
        "src/main.cpp": _render("main.cpp.j2", ctx),
        f"{lib}/library.json": _render("library.json.j2", ctx),
        f"{lib}/library.properties": _render("library.properties.j2", ctx),
        f"{lib}/CMakeLists.txt": _render("CMakeLists.txt.j2", ctx),
        f"{lib}/src/{plan.name}.h": _render("model.h.j2", ctx),
        f"{lib}/src/{plan.name}.c": _render("model.c.j2", ctx),
    }
