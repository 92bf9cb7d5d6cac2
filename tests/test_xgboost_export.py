"""XGBoost exported to C agrees with xgboost's own predictions on the host, bit for bit."""

import json
import shutil
import subprocess

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost", reason="xgboost is the optional extra dwn-mcu[baselines]")

from dwn_mcu.baselines import BaselineError  # noqa: E402
from dwn_mcu.baselines.xgb_export import (  # noqa: E402
    class1_min_margin, pack, parse_booster, predict_tables, render_sources)
from dwn_mcu.compiler.pack import threshold_keys  # noqa: E402
from dwn_mcu.baselines.xgb_host import host_predict  # noqa: E402
from tests.conftest import shared_dataset  # noqa: E402

ELFFile = pytest.importorskip("elftools.elf.elffile").ELFFile

if shutil.which("gcc") is None:
    pytest.skip("gcc is needed for the host proof", allow_module_level=True)


def _train(X, y, num_classes, rounds, depth, seed=0, **extra):
    params = {"max_depth": depth, "eta": 0.3, "tree_method": "hist", "seed": seed, "nthread": 1, **extra}
    params.update({"objective": "binary:logistic"} if num_classes == 2 else
                  {"objective": "multi:softmax", "num_class": num_classes})
    return xgb.train(params, xgb.DMatrix(X, label=y), rounds)


def _xgb_reference(booster, X, num_classes):
    d = xgb.DMatrix(X)
    margins = np.asarray(booster.predict(d, output_margin=True), np.float32).reshape(X.shape[0], -1)
    out = booster.predict(d)
    classes = (out > 0.5).astype(np.int64) if num_classes == 2 else out.astype(np.int64)
    return classes, margins


def _with_nans(X, fraction=0.2, seed=0):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < fraction] = np.nan
    return X


def _edge_rows(tables, X):
    """Inputs exactly at, just below and above split values, plus -0.0, +-FLT_MAX and NaN."""
    rng = np.random.default_rng(1)
    rows = X[rng.integers(0, X.shape[0], 64)].copy()
    keys = tables.thr_keys
    for f in range(tables.num_features):
        ks = keys[int(tables.thr_start[f]): int(tables.thr_start[f + 1])]
        if ks.size == 0:
            continue
        u = np.where(ks & np.uint32(0x80000000), ks ^ np.uint32(0x80000000), ~ks).astype(np.uint32)
        vals = u.view(np.float32)
        picks = rng.choice(vals, size=rows.shape[0])
        step = rng.integers(-1, 2, size=rows.shape[0])
        picks = np.where(step < 0, np.nextafter(picks, np.float32(-np.inf)),
                         np.where(step > 0, np.nextafter(picks, np.float32(np.inf)), picks))
        rows[:, f] = picks.astype(np.float32)
    # xgboost refuses infinite inputs, so the largest finite values stand in for them
    big = np.finfo(np.float32).max
    special = np.array([0.0, -0.0, big, -big, np.nan], np.float32)
    rows[::3, 0] = special[np.arange(rows[::3].shape[0]) % special.size]
    return rows


LAYOUTS = pytest.mark.parametrize("layout", ["table", "inline"])


def _check_host(booster, X, num_classes, name="xgbm", sanitize=False, layout="table"):
    tables = pack(parse_booster(booster))
    ref_class, ref_margin = _xgb_reference(booster, X, num_classes)
    np_class, np_margin = predict_tables(tables, X)
    assert np.array_equal(np_class, ref_class)
    assert np.array_equal(np_margin.view(np.uint32), ref_margin.view(np.uint32))
    c_class, c_margin = host_predict(render_sources(tables, name, layout), X, name, sanitize=sanitize)
    assert np.array_equal(c_class, ref_class), f"{np.count_nonzero(c_class != ref_class)} classes differ"
    assert np.array_equal(c_margin.view(np.uint32), ref_margin.view(np.uint32)), "margins differ"
    return tables


@pytest.fixture(scope="module")
def phoneme_binary():
    ds = shared_dataset("phoneme")
    X, y = ds.train_split()
    return ds, _train(X, y, 2, rounds=40, depth=5)


@pytest.fixture(scope="module")
def segment_multi():
    ds = shared_dataset("segment")
    X, y = ds.train_split()
    return ds, _train(X, y, ds.num_classes, rounds=8, depth=4)


@LAYOUTS
def test_binary_whole_test_split_on_host(phoneme_binary, layout):
    ds, booster = phoneme_binary
    X, _ = ds.test_split()
    tables = _check_host(booster, X, 2, layout=layout)
    assert tables.num_margins == 1 and tables.num_trees == 40


@LAYOUTS
def test_binary_with_nans_and_edges_under_sanitizers(phoneme_binary, layout):
    ds, booster = phoneme_binary
    X, _ = ds.test_split()
    tables = pack(parse_booster(booster))
    rows = np.concatenate([_with_nans(X), _edge_rows(tables, X)])
    _check_host(booster, rows, 2, sanitize=True, layout=layout)


@LAYOUTS
def test_multiclass_whole_test_split_with_nans(segment_multi, layout):
    ds, booster = segment_multi
    X, _ = ds.test_split()
    rows = np.concatenate([X, _with_nans(X), _edge_rows(pack(parse_booster(booster)), X)])
    tables = _check_host(booster, rows, ds.num_classes, name="seg", sanitize=layout == "inline", layout=layout)
    assert tables.num_margins == 7 and tables.num_trees == 8 * 7
    # tree t adds to class t mod 7; the base margin comes from xgboost, one value per class
    assert tables.base_margin.shape == (7,)


def test_binary_class_rule_matches_xgboost_at_tiny_positive_margins():
    """xgboost's float32 sigmoid gives exactly 0.5 for tiny positive margins, so its class is 0 there:
    `margin > 0` would disagree. Build single-leaf models with such margins and compare."""
    m_star = class1_min_margin()
    assert 0 < m_star < 1e-6
    X = np.zeros((4, 1), np.float32)
    base = _train(np.array([[0.0], [1.0]], np.float32), np.array([0, 1]), 2, rounds=1, depth=1,
                  base_score=0.5, min_child_weight=100)
    doc = json.loads(bytes(base.save_raw("json")))
    below = float(np.nextafter(np.float32(m_star), np.float32(0)))
    for leaf, expected in [(below, 0), (m_star, 1), (0.0, 0), (-m_star, 0)]:
        d = json.loads(json.dumps(doc))
        tree = d["learner"]["gradient_booster"]["model"]["trees"][0]
        tree["split_conditions"] = [leaf] * len(tree["split_conditions"])
        booster = xgb.Booster()
        booster.load_model(bytearray(json.dumps(d).encode()))
        assert int(booster.predict(xgb.DMatrix(X))[0] > 0.5) == expected
        _check_host(booster, X, 2)
        _check_host(booster, X, 2, layout="inline")


def test_many_features_use_wider_types_and_still_agree():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 90)).astype(np.float32)
    y = (X[:, 70] + X[:, 5] * X[:, 80] > 0).astype(np.int64)
    booster = _train(X, y, 2, rounds=12, depth=3)
    rows = _with_nans(rng.normal(size=(300, 90)).astype(np.float32))
    tables = _check_host(booster, rows, 2)
    assert tables.node_feat.dtype == np.uint16  # 90 features << 2 needs 16 bits
    _check_host(booster, rows, 2, layout="inline")


def test_rendered_c_is_deterministic_and_sizes_are_declared(phoneme_binary, tmp_path):
    ds, booster = phoneme_binary
    X, y = ds.train_split()
    again = _train(X, y, 2, rounds=40, depth=5)
    a = render_sources(pack(parse_booster(booster)), "xgbm")
    b = render_sources(pack(parse_booster(again)), "xgbm")
    assert a == b
    tables = pack(parse_booster(booster))
    assert f"#define XGBM_TABLE_BYTES {tables.table_bytes}\n" in a["xgbm.h"]
    assert tables.table_bytes == sum(v.nbytes for v in tables.arrays().values())
    assert "malloc" not in a["xgbm.c"] and "PROGMEM" in a["xgbm.c"]
    # Compiled for the AVR, the tables are all in flash (.progmem) and take exactly the declared bytes.
    with open(_avr_object(a, tmp_path), "rb") as fh:
        elf = ELFFile(fh)
        sections = {s.name: s.data_size for s in elf.iter_sections()}
        symtab = elf.get_section_by_name(".symtab")
        sizes = {s.name: s["st_size"] for s in symtab.iter_symbols() if s.name.startswith("xgbm_")}
    assert sum(sizes[f"xgbm_{k}"] for k in tables.arrays()) == tables.table_bytes
    assert sections.get(".progmem.data", 0) == tables.table_bytes
    assert sections.get(".data", 0) == 0 and sections.get(".rodata", 0) == 0  # nothing of it in RAM


def _avr_object(sources: dict, tmp_path):
    """`xgbm.c` of `sources` compiled for the ATmega328P (strict C99, warnings as errors): the object's path."""
    if shutil.which("avr-gcc") is None:
        pytest.skip("avr-gcc not installed")
    for fname, text in sources.items():
        (tmp_path / fname).write_text(text)
    obj = tmp_path / "xgbm.o"
    subprocess.run(["avr-gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Os", "-mmcu=atmega328p",
                    "-c", str(tmp_path / "xgbm.c"), "-o", str(obj)], check=True)
    return obj


def test_split_keys_preserve_order():  # the exporter keys its splits with the DWN encoder's threshold_keys
    v = np.array([-np.inf, -3.5, -1e-40, -0.0, 0.0, 1e-40, 2.0, np.inf], np.float32)
    k = threshold_keys(v).astype(np.int64)
    assert np.all(np.diff(k[[0, 1, 2, 3, 5, 6, 7]]) > 0) and k[3] == k[4]


def test_unsupported_objective_is_a_clear_error():
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    booster = xgb.train({"objective": "reg:squarederror", "nthread": 1}, xgb.DMatrix(X, label=X[:, 0]), 2)
    with pytest.raises(BaselineError, match="reg:squarederror"):
        parse_booster(booster)


def test_bad_model_name_is_rejected(phoneme_binary):
    with pytest.raises(BaselineError, match="C identifier"):
        render_sources(pack(parse_booster(phoneme_binary[1])), "my-model")
    with pytest.raises(BaselineError, match="C identifier"):
        render_sources(pack(parse_booster(phoneme_binary[1])), "my-model", "inline")
    with pytest.raises(BaselineError, match="unknown XGBoost layout"):
        render_sources(pack(parse_booster(phoneme_binary[1])), "m", "unrolled")


def test_inline_code_has_no_tables_and_is_deterministic(phoneme_binary, tmp_path):
    """The inline layout's split keys and leaves are immediates: no array of the model in the object
    (only the `k` and `m` buffers on the stack), nothing in RAM; the same model gives the same bytes."""
    ds, booster = phoneme_binary
    tables = pack(parse_booster(booster))
    a = render_sources(tables, "xgbm", "inline")
    assert a == render_sources(pack(parse_booster(booster)), "xgbm", "inline")
    assert "#define XGBM_TABLE_BYTES 0\n" in a["xgbm.h"] and "PROGMEM" not in a["xgbm.c"]
    assert a["xgbm.c"].count("m[0] += v;") == tables.num_trees
    with open(_avr_object(a, tmp_path), "rb") as fh:
        sections = {s.name: s.data_size for s in ELFFile(fh).iter_sections()}
    assert not any(sections.get(k, 0) for k in (".data", ".rodata", ".bss", ".progmem.data"))
