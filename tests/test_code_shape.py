"""The package's own shape rule: no function in `dwn_mcu/` longer than 60 lines (docs/design.md)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dwn_mcu"
MAX_LINES = 60


def test_no_function_is_longer_than_60_lines():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50  # the package was found
    long = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
