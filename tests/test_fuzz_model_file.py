"""Fuzzing the `.dwn` loader: thousands of mutants of three valid models, generated every run.

Every mutant must either load into a model that validates, predicts and saves again, or raise one
one-line DWNFormatError; nothing else may escape. A sample also goes through the real CLI in a child
process under a 512 MiB address-space limit and a 30 s timeout. Families: truncations, byte flips,
structured array mutations (dtype, shape, extreme values, NaN/inf), header key mutations, zip tricks.
The families are seeded (SEED); hypothesis adds new byte-level mutants on every run.
"""

import functools
import io
import json
import os
import random
import resource
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dwn_mcu import DWNFormatError
from dwn_mcu.model_file import from_bytes, to_bytes
from dwn_mcu.synthetic import adversarial_inputs

from dwn_files import (base_models, deflate_bomb, header_of, members, npy, npy_declaring, npy_with_header_text,
                       patch_entry, rezip, with_array, with_header, with_header_text)

SEED = 20261201
ROOT = Path(__file__).resolve().parents[1]
BASES = {name: to_bytes(model) for name, model in base_models().items()}


def check(data: bytes) -> str:
    """Load `data`; either the model works or the error is one DWNFormatError line. Returns the outcome."""
    try:
        model = from_bytes(data)
    except DWNFormatError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        return "refused"
    model.validate()
    X = adversarial_inputs(model, random_rows=4)[:12]
    assert model.predict(X).shape == (X.shape[0],)
    assert from_bytes(to_bytes(model)).num_classes == model.num_classes
    return "loaded"


# ------------------------------------------------------------------------------------ the families
def truncations(data: bytes, rng: random.Random):
    """Every prefix at a dense sample of offsets (every 3rd byte, all of the last 100), and suffixes."""
    cuts = set(range(0, len(data), 3)) | set(range(max(0, len(data) - 100), len(data)))
    yield from (data[:n] for n in sorted(cuts))
    yield from (data[n:] for n in rng.sample(range(1, len(data)), 40))


def byte_flips(data: bytes, rng: random.Random, count: int = 250):
    for _ in range(count):
        out = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 4, 16])):
            out[rng.randrange(len(out))] ^= rng.choice([0x01, 0x80, 0xFF, rng.randrange(1, 256)])
        yield bytes(out)


_DTYPES = ["i1", "i2", "<i4", "<i8", "u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8", "?", ">i4", ">f4", "<c8"]


def _extreme(array: np.ndarray, rng: random.Random) -> np.ndarray:
    out = array.copy()
    if out.size == 0:
        return out
    if out.dtype.kind == "f":
        values = [np.nan, np.inf, -np.inf, np.finfo(out.dtype).max, -0.0, np.finfo(out.dtype).tiny]
    else:
        info = np.iinfo(out.dtype)
        values = [info.min, info.max, 0, 1, -1 if info.min < 0 else 2, 17, 2**16 % (info.max + 1)]
    out[rng.randrange(out.size)] = rng.choice(values)
    return out


def array_mutations(data: bytes, rng: random.Random):
    """For every array: each other dtype, shape changes, extreme values at random places."""
    m = members(data)
    for member, raw in m.items():
        name = member[:-4]
        a = np.lib.format.read_array(io.BytesIO(raw))
        for dtype in _DTYPES:
            if np.dtype(dtype) != a.dtype:
                with np.errstate(all="ignore"):
                    yield with_array(data, name, a.astype(dtype))
        yield with_array(data, name, a[:0])
        yield with_array(data, name, a[:-1])
        yield with_array(data, name, np.concatenate([a, a[-1:] if a.size else np.zeros(1, a.dtype)]))
        yield with_array(data, name, np.asarray(a[0] if a.size else 0, a.dtype))  # 0-d
        yield with_array(data, name, np.stack([a, a]))
        yield with_array(data, name, np.asfortranarray(np.stack([a, a]).T))
        yield with_array(data, name, npy_declaring(a.dtype.str, (rng.choice([2**31, 2**40, 10**12]),), raw[128:]))
        if name != "header":
            for _ in range(6):
                yield with_array(data, name, _extreme(a, rng))


_VALUES = [None, True, False, 0, -1, 1, 2, 17, 2**31, 2**63, -(2**63), 1e308, float("nan"), 1.5, "", "x",
           "float32", "int16", "popcount", [], [1, 2], ["a", 3], {}, {"kind": "reduction"},
           {"kind": "reduction", "reduction_layers": 1}, "a\nb", "\x00", "*/", "x" * 70, "é" * 30]


def _deep(depth: int):
    value = 1
    for _ in range(depth):
        value = {"a": value} if depth % 2 else [value]
    return value


_NPY_HEADERS = [
    "{'descr': '<U9', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '|V99999999999', 'fortran_order': False, 'shape': (1,), }",
    "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<M8[s]', 'fortran_order': False, 'shape': (3,), }",
    "{'descr': '<i4', 'shape': (3,), }",
    "{'descr': '<i4', 'fortran_order': 1, 'shape': (3,), }",
    "{'descr': '<i4', 'fortran_order': False, 'shape': (True,), }",
    "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
    "{'descr': '<i4', 'fortran_order': False, 'shape': 3}",
    "{'descr': '<i4', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",), }",
    "[" * 5000 + "]" * 5000, "(" * 48, "{'descr': '<i4'", "__import__('os')", "",
]


def npy_header_mutations(data: bytes, rng: random.Random):
    """Members whose `.npy` header is hostile text: other dtypes, objects, odd keys, deep nesting, code."""
    names = list(members(data))
    for text in _NPY_HEADERS:
        for version in (b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"):
            yield with_array(data, rng.choice(names)[:-4], npy_with_header_text(text, bytes(12), version))


def header_mutations(data: bytes, rng: random.Random):
    """Every header key: removed, each value of _VALUES, nested deep, huge; unknown keys; odd JSON text."""
    header = header_of(data)
    for key in sorted(header):
        yield with_header_text(data, json.dumps({k: v for k, v in header.items() if k != key}))
        for value in _VALUES:
            yield with_header(data, **{key: value})
        yield with_header(data, **{key: _deep(rng.choice([31, 33, 200]))})
        yield with_header(data, **{key: "x" * rng.choice([10**4, 10**6])})
    for field in ("class_names", "feature_names"):
        names = list(header[field])
        for bad in ("a\tb", "\r", "\u2029", 5, None, "x" * 65, "*/ /*", "\ud800"):
            if names:
                changed = names.copy()
                changed[rng.randrange(len(names))] = bad
                yield with_header(data, **{field: changed})
        yield with_header(data, **{field: names[:-1]})
        yield with_header(data, **{field: names + ["extra"]})
    yield with_header(data, metadata={"a": _deep(40)}, unknown=1)
    text = json.dumps(header)
    for odd in (text[:-1], text + "x", text.replace("{", "[", 1), "null", "[]", '"dwn"', "\ufeff" + text,
                text.replace('"format"', '"format": "x", "format"'), "{" * 100_000, "[" * 3000 + "]" * 3000,
                text.replace("3", "1" * 5000, 1)):
        yield with_header_text(data, odd)
    yield with_array(data, "header", np.frombuffer(b"\xff\xfe" + text.encode(), np.uint8))


def zip_mutations(data: bytes, rng: random.Random):
    """Flags, methods, duplicates, declared sizes, bombs, extra, directory and path-traversal members."""
    m = members(data)
    names = list(m)
    for name in names:
        for flag in (0x1, 0x20, 0x40, 0x2000, 0x8):
            yield patch_entry(data, name, flag_bits=flag)
        for method in (1, 9, 12, 14, 93, 95, 98, 99):
            yield patch_entry(data, name, method=method)
        for size in (0, 1, 10**6, 2**25 + 1, 2**32 - 1):
            yield patch_entry(data, name, file_size=size)
    items = list(m.items())
    yield rezip(items + [rng.choice(items)])
    yield rezip([items[0]] + items)
    yield rezip(m, compression=zipfile.ZIP_STORED)
    for extra in ("extra.npy", "readme.txt", "layer1/", "../header.npy", "/etc/passwd", "a/../b.npy", "C:\\x.npy",
                  "layer99_tables.npy", "header.npy\x00.txt"):
        yield rezip(items + [(extra, npy(np.zeros(3, np.uint8)))])
    for name in rng.sample(names, 3):
        yield rezip({k: v for k, v in m.items() if k != name})
    yield rezip({})
    yield b"PK\x05\x06" + bytes(18)
    yield b"junk" * 10 + data
    yield data + b"trailing garbage"
    yield data[:-22] + data[-22:-2] + b"\x05\x00hello"


@functools.lru_cache(maxsize=1)
def all_mutants(seed: int = SEED) -> tuple:
    """(family, base, bytes) for every mutant, in a fixed order."""
    out = []
    for base, data in BASES.items():
        rng = random.Random(f"{seed}-{base}")
        for family in (truncations, byte_flips, array_mutations, npy_header_mutations, header_mutations,
                       zip_mutations):
            out.extend((family.__name__, base, mutant) for mutant in family(data, rng))
    return tuple(out)


# --------------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("base", list(BASES))
def test_bases_load(base):
    assert check(BASES[base]) == "loaded"


def test_every_mutant_loads_or_is_refused_in_one_line():
    outcomes = Counter()
    for family, base, mutant in all_mutants():
        try:
            outcomes[family, check(mutant)] += 1
        except AssertionError:
            raise
        except BaseException as exc:  # say which mutant, so it can be turned into a test
            raise AssertionError(f"{family} mutant of {base} ({len(mutant)} bytes): {type(exc).__name__}: {exc}")
    print(f"\nfuzz: {sum(outcomes.values())} mutants tried:", dict(sorted(outcomes.items())))
    assert sum(outcomes.values()) > 3000
    assert all(outcomes[f, "refused"] for f in ("truncations", "byte_flips", "array_mutations", "npy_header_mutations",
                                                 "header_mutations", "zip_mutations"))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(base=st.sampled_from(sorted(BASES)), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                          min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_hypothesis_byte_mutants(base, edits, cut):
    out = bytearray(BASES[base])
    for position, value in edits:
        out[position % len(out)] = value
    if cut is not None:
        out = out[: cut % len(out)]
    check(bytes(out))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(base=st.sampled_from(sorted(BASES)), key=st.sampled_from(["num_features", "num_classes", "num_layers",
                                                                  "input_type", "class_names", "feature_names",
                                                                  "metadata", "output", "version", "format"]),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
                          lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                          max_leaves=12))
def test_hypothesis_header_values(base, key, value):
    check(with_header(BASES[base], **{key: value}))


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))


def _cli(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "dwn_mcu", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_limit_memory, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def _cli_sample(count: int = 40):
    """`count` mutants, about half of them ones that load, drawn at random from every family, and 2 bombs."""
    rng = random.Random(SEED)
    loaded, refused = [], []
    for _, _, mutant in rng.sample(all_mutants(), len(all_mutants())):
        try:
            from_bytes(mutant)
            if len(loaded) < count // 2:
                loaded.append(mutant)
        except DWNFormatError:
            if len(refused) < count // 2 - 2:
                refused.append(mutant)
        if len(loaded) + len(refused) == count - 2:
            break
    bombs = [deflate_bomb("header.npy", 512 << 20),
             patch_entry(deflate_bomb("header.npy", 64 << 20, prefix=npy_declaring("|u1", (3968,))), "header.npy",
                         file_size=4096)]
    return loaded, refused + bombs


def test_cli_on_mutants(tmp_path):
    """`info` exits 0, or 2 with exactly one stderr line; `optimize` and `build --no-optimize` don't crash."""
    loaded, refused = _cli_sample()
    for i, mutant in enumerate(loaded + refused):
        path = tmp_path / f"m{i}.dwn"
        path.write_bytes(mutant)
        run = _cli("info", path)
        lines = run.stderr.splitlines()
        assert "Traceback" not in run.stderr, run.stderr
        assert (run.returncode, len(lines)) in ((0, 0), (2, 1)), (run.returncode, run.stderr)
        assert run.returncode == (0 if i < len(loaded) else 2), run.stderr
    print(f"\ncli info: {len(loaded)} loaded and {len(refused)} refused mutants")
    for i, mutant in enumerate(loaded[:2]):
        path = tmp_path / f"m{i}.dwn"
        for args in (("optimize", path, "-o", tmp_path / f"o{i}.dwn"),
                     ("build", path, "--no-optimize", "--board", "nano", "-o", tmp_path / f"b{i}")):
            run = _cli(*args, timeout=120)
            assert run.returncode in (0, 2) and "Traceback" not in run.stderr, (args, run.returncode, run.stderr)
            assert run.returncode == 0 or len(run.stderr.splitlines()) == 1, run.stderr

