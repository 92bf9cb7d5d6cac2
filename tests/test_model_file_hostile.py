"""Hostile `.dwn` files: every fault once observed, each refused with one DWNFormatError naming the field."""

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dwn_mcu import DWNFormatError, FrozenDWN, load, save
from dwn_mcu.errors import DWNError, OutputError
from dwn_mcu.model_file import from_bytes, to_bytes
from dwn_mcu.model_limits import MAX_CLASS_BIAS, MAX_JSON_DEPTH, MAX_NAME_CHARS

from dwn_files import (base_models, deflate_bomb, header_of, members, npy, npy_declaring, patch_entry, rezip,
                       with_array, with_header, with_header_text)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def model():
    return base_models()["popcount"]


@pytest.fixture
def data(model):
    return to_bytes(model)


def refused(data, *patterns):
    """`from_bytes(data)` raises one one-line DWNFormatError matching every pattern."""
    with pytest.raises(DWNFormatError) as info:
        from_bytes(data)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    for pattern in patterns:
        assert pattern in message, message
    return message


# ----------------------------------------------------------------------------------- .npy headers
@pytest.mark.parametrize("count", [2**40, 2**34, 10**9])
def test_huge_declared_shape_is_refused_before_any_data(data, count):
    refused(with_array(data, "thresholds", npy_declaring("<f4", (count,), b"\0" * 64)),
            "thresholds.npy", f"declares {count} elements")


def test_declared_shape_must_match_the_data(data, model):
    short = npy_declaring("<f4", (model.num_input_bits,), model.thresholds[:-1].tobytes())
    refused(with_array(data, "thresholds", short), "thresholds.npy", "declares")


@pytest.mark.parametrize("shape", [(2, 5), (), (-3,)])
def test_arrays_must_be_1d(data, shape):
    refused(with_array(data, "class_bias", npy_declaring("<i4", shape, b"\0" * 40)), "class_bias.npy")


# ---------------------------------------------------------------------------------- JSON header
def test_deeply_nested_metadata(data):
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    text = json.dumps(header_of(data)).replace('"metadata": {}', f'"metadata": {deep}')
    refused(with_header_text(data, text), "header")


def test_metadata_nesting_just_over_the_bound(data):
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    text = json.dumps(header_of(data)).replace('"metadata": {}', f'"metadata": {{"a": {deep}}}')
    refused(with_header_text(data, text), "deeper than 32")


def test_header_byte_length_is_bounded(data):
    refused(with_header(data, metadata={"pad": ["x" * 1000] * 1100}), "header.npy", "more than")


def test_huge_integer_in_header(data):
    text = json.dumps(header_of(data)).replace('"num_layers": 2', '"num_layers": ' + "9" * 5000)
    refused(with_header_text(data, text), "header: not valid JSON")


@pytest.mark.parametrize("version", [1.0, True, "3", [3]])
def test_version_must_be_an_int(data, version):
    refused(with_header(data, version=version), "format version")


# ------------------------------------------------------------------------------- integer arrays
def test_bits_per_feature_that_wrap_to_the_right_sum(data, model):
    total = model.num_input_bits
    wrap = np.array([2**62, 2**62, 2**62, 2**62 + total], dtype=np.int64)  # sums to total mod 2**64
    refused(with_array(data, "bits_per_feature", wrap), "bits_per_feature.npy", "<i8", "<i4")
    with pytest.raises(DWNFormatError, match="bits_per_feature: a count outside"):
        FrozenDWN(thresholds=model.thresholds, bits_per_feature=wrap, layers=model.layers, num_classes=3).validate()


def test_bits_per_feature_in_int32_that_overflow_it(data, model):
    big = np.array([2**30, 2**30, 2**30, 2**30 + model.num_input_bits], dtype=np.int32)
    refused(with_array(data, "bits_per_feature", big), "bits_per_feature: a count outside")


@pytest.mark.parametrize("name, dtype", [("layer1_tables", np.uint16), ("layer1_n_inputs", np.int64),
                                         ("layer2_mapping", np.int64), ("class_bias", np.int64),
                                         ("thresholds", np.float64), ("header", np.int8)])
def test_every_field_has_its_exact_dtype(data, name, dtype):
    array = np.lib.format.read_array(io.BytesIO(members(data)[name + ".npy"]))
    refused(with_array(data, name, array.astype(dtype)), f"{name}.npy", "dtype", "expected")


def test_big_endian_is_refused(data, model):
    refused(with_array(data, "thresholds", model.thresholds.astype(">f4")), "thresholds.npy", ">f4")


@pytest.mark.parametrize("bias", [2**31 - 1, -(2**31), MAX_CLASS_BIAS + 1, -MAX_CLASS_BIAS - 1])
def test_class_bias_is_bounded(data, bias):
    refused(with_array(data, "class_bias", np.array([bias, 0, 0], np.int32)), "class_bias: a value outside")


def test_class_bias_at_the_bound_loads(data):
    back = from_bytes(with_array(data, "class_bias", np.array([MAX_CLASS_BIAS, -MAX_CLASS_BIAS, 0], np.int32)))
    assert back.class_bias.tolist() == [MAX_CLASS_BIAS, -MAX_CLASS_BIAS, 0]


def test_uint64_bias_does_not_become_minus_one(data, model):
    big = np.array([2**64 - 1, 0, 0], np.uint64)
    refused(with_array(data, "class_bias", big), "class_bias.npy", "<u8")
    with pytest.raises(DWNFormatError, match="class_bias: values that int64 cannot hold"):
        FrozenDWN(thresholds=model.thresholds, bits_per_feature=model.bits_per_feature, layers=model.layers,
                  num_classes=3, class_bias=big)


# ------------------------------------------------------------------------------------ zip level
def test_encrypted_member(data):
    refused(patch_entry(data, "thresholds.npy", flag_bits=0x1), "thresholds.npy", "encrypted")


def test_unknown_compression_method(data):
    refused(patch_entry(data, "thresholds.npy", method=99), "thresholds.npy", "compression method 99")


def test_duplicate_member_names(data):
    items = list(members(data).items())
    refused(rezip(items + [items[1]]), "appears twice")


@pytest.mark.parametrize("name", ["../thresholds.npy", "/abs.npy", "dir/", "a\\b.npy", "THRESHOLDS.npy",
                                  "thresholds.npy.exe", "x" * 300 + ".npy"])
def test_member_names(data, name):
    refused(rezip(list(members(data).items()) + [(name, b"")]), "unexpected member")


def test_too_many_members(data):
    refused(rezip([(f"m{i}.npy", b"") for i in range(300)]), "zip directory")


def test_declared_size_over_the_member_bound(data):
    refused(patch_entry(data, "thresholds.npy", file_size=33 << 20), "thresholds.npy", "declares")


def _peak_rss_mb(code: str) -> tuple[int, str]:
    """Run `code` in a fresh interpreter; its peak RSS in MB and its stdout."""
    # VmHWM, not ru_maxrss: a spawned child's ru_maxrss starts from its parent's (pytest's) peak.
    script = textwrap.dedent(code) + (
        "\nprint([int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stderr
    *out, peak = run.stdout.split("\n")[:-1]
    return int(peak), "\n".join(out)


_BOMB_HEAD = npy_declaring("|u1", (4096 - 128,))


@pytest.fixture(scope="module")
def bomb():
    """A header.npy of 512 MiB (a valid 4 KiB uint8 .npy, then zeros) in a ~0.5 MB file."""
    assert len(_BOMB_HEAD) == 128
    return deflate_bomb("header.npy", 512 << 20, prefix=_BOMB_HEAD)


@pytest.mark.parametrize("lie", [False, True])
def test_zip_bomb_is_refused_in_little_memory(tmp_path, bomb, lie):
    """With `lie`, the directory says 4 KiB, as the .npy header does: the bounded read stops there and the
    CRC, over those 4 KiB, fails."""
    assert len(bomb) < 1 << 20
    if lie:
        bomb = patch_entry(bomb, "header.npy", file_size=4096)
    path = tmp_path / "bomb.dwn"
    path.write_bytes(bomb)
    peak, out = _peak_rss_mb(f"""
        from dwn_mcu import DWNFormatError, load
        try:
            load({str(path)!r})
        except DWNFormatError as exc:
            print(exc)
    """)
    assert "bomb.dwn: header.npy: " + ("truncated or corrupt (Bad CRC-32" if lie else "declares 536871040 bytes") in out, out
    print(f"zip bomb (lie={lie}): peak RSS {peak} MB; {out}")
    assert peak < 200, f"peak RSS {peak} MB"


# ------------------------------------------------------------------------------------- strings
@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\tb", "nul\x00", "\x7f", "\u2028", "x" * (MAX_NAME_CHARS + 1)])
@pytest.mark.parametrize("field", ["class_names", "feature_names"])
def test_names_are_refused_on_load_and_on_save(tmp_path, data, model, field, bad):
    names = list(getattr(model, field))
    names[0] = bad
    refused(with_header(data, **{field: names}), f"{field}[0]")
    changed = FrozenDWN(**{**_fields(model), field: names})
    with pytest.raises(DWNFormatError, match=rf"{field}\[0\]"):
        save(changed, tmp_path / "m.dwn")
    assert not (tmp_path / "m.dwn").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", [0, None, ["a"], {"a": 1}])
def test_names_must_be_strings(data, model, bad):
    refused(with_header(data, class_names=[bad, "b", "c"]), "class_names[0]", "where a string is needed")


def test_names_at_the_bound_and_c_comment_terminators_load(data):
    names = ["x" * MAX_NAME_CHARS, "*/ evil /*", "ünïcode ✓"]
    assert from_bytes(with_header(data, class_names=names)).class_names == tuple(names)


@pytest.mark.parametrize("metadata", [{"note": "a\nb"}, {"k\x00": 1}, {"deep": [{"s": "x" * 2000}]}])
def test_metadata_strings(data, metadata):
    refused(with_header(data, metadata=metadata), "metadata")


def _fields(model):
    return {k: getattr(model, k) for k in ("thresholds", "bits_per_feature", "layers", "num_classes", "class_bias",
                                           "class_names", "feature_names", "metadata", "input_type",
                                           "reduction_layers")}


# --------------------------------------------------------------------------------------- save()
def test_save_creates_missing_parent_folders(tmp_path, model):
    path = tmp_path / "a" / "b" / "m.dwn"
    save(model, path)
    assert load(path).num_classes == model.num_classes


def test_save_into_a_directory_or_under_a_file(tmp_path, model):
    (tmp_path / "taken").mkdir()
    (tmp_path / "file").write_text("x")
    for path in (tmp_path / "taken", tmp_path / "file" / "m.dwn"):
        with pytest.raises(OutputError, match=str(path)) as info:
            save(model, path)
        assert isinstance(info.value, DWNError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "taken"] and not list((tmp_path / "taken").iterdir())


# --------------------------------------------------------------------- the largest files the bounds let in
def _reduction_with_huge_head(luts: int) -> bytes:
    """A reduction model whose one reduction layer has `luts` 3-input LUTs (a mapping of 3 * luts int32):
    within every byte bound, near MAX_MODEL_BYTES once loaded, and the costliest check (the block structure)."""
    model = base_models()["reduction"]
    m, C, G = members(to_bytes(model)), model.num_classes, model.group_size
    last = len(model.dwn_layers) + 1
    m = {k: v for k, v in m.items() if not k.startswith("layer") or int(k[5:].split("_")[0]) < last}
    header = {**header_of(to_bytes(model)), "num_layers": last, "output": {"kind": "reduction", "reduction_layers": 1}}
    m["header.npy"] = npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    owner = np.repeat(np.arange(C), 3 * luts // C)
    m[f"layer{last}_n_inputs.npy"] = npy(np.full(luts, 3, np.uint8))
    m[f"layer{last}_mapping.npy"] = npy((owner * G + np.arange(owner.size) % G).astype(np.int32))
    m[f"layer{last}_tables.npy"] = npy(np.zeros(luts, np.uint8))
    return rezip(m)


def _millions_of_features(count: int) -> bytes:
    """The popcount model's features, then `count - 4` more without thresholds (every check runs per feature)."""
    model = base_models()["popcount"]
    counts = np.zeros(count, np.int32)
    counts[: model.num_features] = model.bits_per_feature
    return with_header(with_array(to_bytes(model), "bits_per_feature", counts), num_features=count)


@pytest.mark.parametrize("make, expected", [(lambda: _reduction_with_huge_head(2_400_000), "score bits per class"),
                                            (lambda: _millions_of_features(8_000_000), "feature_names")])
def test_largest_files_the_bounds_admit_load_in_bounded_memory_and_time(tmp_path, make, expected):
    path = tmp_path / "big.dwn"
    path.write_bytes(make())
    peak, out = _peak_rss_mb(f"""
        import time
        from dwn_mcu import DWNFormatError, load
        start = time.perf_counter()
        try:
            load({str(path)!r})
        except DWNFormatError as exc:
            print(exc)
        print(f"{{time.perf_counter() - start:.2f}}")
    """)
    message, seconds = out.split("\n")
    print(f"{path.stat().st_size} byte file: peak RSS {peak} MB, {seconds} s; {message}")
    assert expected in message and peak < 512 and float(seconds) < 30


@pytest.mark.parametrize("bias", [-(2**63), 2**63 - 1, MAX_CLASS_BIAS + 1])
def test_in_memory_class_bias_is_bounded_too(model, bias):
    with pytest.raises(DWNFormatError, match="class_bias: a value outside"):
        FrozenDWN(**{**_fields(model), "class_bias": np.array([bias, 0, 0], np.int64)}).validate()


def test_load_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path, tmp_path / "fifo"):
        with pytest.raises(DWNFormatError, match="not a regular file"):
            load(path)
