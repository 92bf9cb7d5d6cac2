"""The .dwn file: round trip, determinism, and every way a file can be wrong."""

import io
import json
import zipfile

import numpy as np
import pytest

from dwn_mcu import DWNFormatError, load, save
from dwn_mcu.model_file import from_bytes, to_bytes
from dwn_mcu.synthetic import adversarial_inputs, random_model


@pytest.fixture
def model():
    return random_model(seed=1, num_features=4, bits_per_feature=[3, 0, 5, 2], luts=(30, 9), n=[5, 2],
                        num_classes=3)


def test_round_trip_is_exact_and_deterministic(tmp_path, model):
    p = tmp_path / "m.dwn"
    save(model, p)
    back = load(p)
    X = adversarial_inputs(model)
    assert np.array_equal(back.scores(X), model.scores(X))
    assert np.array_equal(back.thresholds, model.thresholds)
    for a, b in zip(back.layers, model.layers):
        assert np.array_equal(a.mapping, b.mapping) and np.array_equal(a.tables, b.tables)
    assert p.read_bytes() == to_bytes(back)


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rezip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return buf.getvalue()


def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=True)
    return buf.getvalue()


def _with_header(data, **changes):
    m = _members(data)
    header = json.loads(np.lib.format.read_array(io.BytesIO(m["header.npy"])).tobytes())
    header.update(changes)
    m["header.npy"] = _npy(np.frombuffer(json.dumps(header).encode(), np.uint8))
    return _rezip(m)


def _with_array(data, name, array):
    m = _members(data)
    m[name + ".npy"] = _npy(array)
    return _rezip(m)


def test_truncated_file(model):
    data = to_bytes(model)
    with pytest.raises(DWNFormatError, match="not a .dwn file|truncated"):
        from_bytes(data[: len(data) // 2])


def test_wrong_version(model):
    with pytest.raises(DWNFormatError, match="version 99"):
        from_bytes(_with_header(to_bytes(model), version=99))


def test_not_a_dwn(model):
    with pytest.raises(DWNFormatError, match="format"):
        from_bytes(_with_header(to_bytes(model), format="onnx"))


def test_pickle_inside_is_refused(model):
    bad = np.array([{"evil": 1}], dtype=object)
    with pytest.raises(DWNFormatError, match="pickle"):
        from_bytes(_with_array(to_bytes(model), "thresholds", bad))


def test_index_out_of_range(model):
    mapping = model.layers[1].mapping.astype(np.int32).copy()
    mapping[0] = 30  # layer 1 has 30 LUTs: 0..29
    with pytest.raises(DWNFormatError, match="out of range"):
        from_bytes(_with_array(to_bytes(model), "layer2_mapping", mapping))


def test_bad_dtype(model):
    with pytest.raises(DWNFormatError, match="float32"):
        from_bytes(_with_array(to_bytes(model), "thresholds", model.thresholds.astype(np.float64)))


def test_unsorted_thresholds(model):
    t = model.thresholds.copy()
    t[[0, 1]] = t[[1, 0]]
    with pytest.raises(DWNFormatError, match="increasing"):
        from_bytes(_with_array(to_bytes(model), "thresholds", t))


def test_group_size(model):
    with pytest.raises(DWNFormatError, match="multiple"):
        from_bytes(_with_header(to_bytes(model), num_classes=2, class_names=["a", "b"]))


def test_missing_and_extra_arrays(model):
    m = _members(to_bytes(model))
    del m["layer2_tables.npy"]
    with pytest.raises(DWNFormatError, match="missing array 'layer2_tables'"):
        from_bytes(_rezip(m))
    with pytest.raises(DWNFormatError, match="unexpected array"):
        from_bytes(_with_array(to_bytes(model), "extra", np.zeros(3)))


def test_table_size_mismatch(model):
    with pytest.raises(DWNFormatError, match="layer1_tables"):
        from_bytes(_with_array(to_bytes(model), "layer1_tables", np.zeros(3, np.uint8)))


def test_missing_file_names_path(tmp_path):
    with pytest.raises(DWNFormatError, match="nope.dwn"):
        load(tmp_path / "nope.dwn")
