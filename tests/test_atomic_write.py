"""`dwn_mcu.atomic_write`: one file or one folder, complete or not written at all, nothing temporary left."""

import pytest

from dwn_mcu.atomic_write import write_file, write_tree
from dwn_mcu.errors import OutputError


def test_write_file_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sub" / "m.bin"
    write_file(path, b"first")
    assert path.read_bytes() == b"first"
    with pytest.raises(TypeError):
        write_file(path, "not bytes")  # fails while the temporary is being filled
    assert path.read_bytes() == b"first"
    assert [p.name for p in path.parent.iterdir()] == ["m.bin"]  # no temporary left
    write_file(path, b"second")
    assert path.read_bytes() == b"second"


def test_write_file_names_the_path_it_cannot_write(tmp_path):
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(OutputError, match=r"plain/m\.bin: cannot write"):
        write_file(tmp_path / "plain" / "m.bin", b"x")


def test_write_tree_keeps_the_previous_tree_when_filling_fails(tmp_path):
    out = tmp_path / "out"
    write_tree(out, {"marker.json": "{}", "src/a.c": "int a;\n"}, "marker.json")
    assert (out / "src" / "a.c").read_text() == "int a;\n"
    with pytest.raises(TypeError):
        write_tree(out, {"marker.json": "{}", "src/b.c": 3}, "marker.json", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["marker.json", "src", "src/a.c"]
    write_tree(out, {"marker.json": "{}", "b.c": b"int b;\n"}, "marker.json", force=True)
    assert sorted(p.name for p in out.iterdir()) == ["b.c", "marker.json"]
