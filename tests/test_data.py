"""Dataset loading: CSV, .npz, bundled and $DWN_MCU_DATA sets, and the errors each bad file gives."""

import numpy as np
import pytest

from dwn_mcu import DataError
from dwn_mcu.data import available_datasets, load_csv, load_data, load_dataset, load_npz, stratified_split


def write(tmp_path, text, name="d.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_features_labels_missing_values(tmp_path):
    path = write(tmp_path, "x1, y ,x2\n1.5,10,NA\n-2,2,3e3\n,10,?\n4,2,7\n5,10,1\n")
    d = load_csv(path, "y")
    assert d.feature_names == ("x1", "x2")
    assert d.class_names == ("2", "10")  # numeric labels in numeric order
    assert d.y.tolist() == [1, 0, 1, 0, 1]
    assert d.X.dtype == np.float32 and d.X.shape == (5, 2)
    assert np.isnan(d.X[0, 1]) and np.isnan(d.X[2, 0]) and np.isnan(d.X[2, 1])
    assert d.X[1].tolist() == [-2.0, 3000.0]
    assert d.is_test.sum() >= 1 and (~d.is_test).sum() >= 1


def test_csv_is_test_column_sets_the_split(tmp_path):
    path = write(tmp_path, "a,label,is_test\n1,p,0\n2,q,1\n3,p,1\n4,q,0\n")
    d = load_csv(path, "label")
    assert d.feature_names == ("a",)
    assert d.is_test.tolist() == [False, True, True, False]


def assert_one_line_error(path, target, needles):
    """Loading `path` fails with one line that names the file and holds every needle."""
    with pytest.raises(DataError) as err:
        load_csv(path, target)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    for needle in needles:
        assert needle in msg


@pytest.mark.parametrize(
    "text, target, needles",
    [
        ("a,b,t\n1,2,x\n3,oops,y\n", "t", ["row 3", "column 'b'", "'oops'"]),
        ("a,t\n1,x\n2,y\n", "label", ["no column named 'label'", "a, t"]),
        ("", "t", ["empty file"]),
        ("a,t\n", "t", ["no data rows"]),
        ("a,t\n1,x\n2,y,3\n", "t", ["row 3", "3 cells"]),
        ("a,t\n1,x\n2,\n", "t", ["row 3", "empty label"]),
        ("a,t\n1,x\n2,x\n", "t", ["single class"]),
        # a second column named like the target used to train silently on the first one
        ("a,t,t\n1,x,y\n2,y,x\n", "t", ["column 't' appears 2 times", "columns 2, 3"]),
        ("a,b,a,t\n1,2,3,x\n2,3,4,y\n", "t", ["column 'a' appears 2 times", "columns 1, 3", "unique"]),
        # a `nan` label used to become a class named "nan"
        ("a,t\n1,x\n2,y\n3,nan\n", "t", ["row 4", "column 't'", "'nan'", "missing"]),
        ("a,t\n1,x\n2,y\n3,NA\n", "t", ["row 4", "column 't'", "'NA'", "missing"]),
        # another separator: say so, not only that the column is missing
        ("a;b;t\n1;2;x\n2;3;y\n", "t", ["no column named 't'", "separator looks like ';'"]),
        ("a\tb\tt\n1\t2\tx\n", "t", ["no column named 't'", "separator looks like a tab"]),
        ("\n\n", "t", ["row 1", "header, is empty"]),
        ("a,,t\n1,2,x\n2,3,y\n", "t", ["row 1, column 2", "no name"]),
        ("a,t\n1,x\ninf,y\n", "t", ["row 3", "column 'a'", "'inf'", "not a finite number"]),
        ("a,t\n1,x\n-1e39,y\n", "t", ["row 3", "column 'a'", "'-1e39'", "not a finite number"]),
        ('a,t\n1,"x\n2,y\n', "t", ["row 2", "unclosed or stray quote"]),
        ('a,t\n1,x\n2,"y"z\n', "t", ["row 3", "quote"]),
        ('a,t\n1,"x\ny"\n2,z\n', "t", ["row 2", "column 't'", "control character"]),
        ("a,t\n1,x\n2," + "y" * 300 + "\n", "t", ["row 3", "column 't'", "300 characters"]),
        ("a,t\n1,x\n2," + "y" * 200_000 + "\n", "t", ["row 3", "longer than 131072"]),
        ("a,t,is_test\n1,x,0\n2,y,maybe\n", "t", ["row 3", "column 'is_test'", "'maybe'", "0 or 1"]),
        ("a,t,is_test\n1,x,1\n2,y,1\n", "t", ["every row as a test row"]),
        ("a,is_test\n1,0\n2,1\n", "is_test", ["cannot be the target"]),
    ],
)
def test_csv_errors_name_the_problem(tmp_path, text, target, needles):
    assert_one_line_error(write(tmp_path, text), target, needles)


def test_csv_binary_file_is_an_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,t\n\xff\xfe\x00\x01,x\n")
    with pytest.raises(DataError, match="not a CSV file"):
        load_csv(path, "t")


@pytest.mark.parametrize(
    "data, needles",
    [
        ("a,t\n1,x\n2,caf\xe9\n".encode("latin-1"), ["row 3", "0xe9", "not UTF-8"]),
        ("a,t\n1,x\n".encode("utf-16"), ["UTF-16", "UTF-8"]),
        (b"a,t\n1,x\x00\n", ["row 2", "NUL"]),
    ],
)
def test_csv_encodings(tmp_path, data, needles):
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    assert_one_line_error(path, "t", needles)


def test_csv_utf8_bom_and_quoted_cells_are_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b'\xef\xbb\xbfa,"b, c",t\n"1.5",2,"x y"\n-2,"3",z\n')
    d = load_csv(path, "t")
    assert d.feature_names == ("a", "b, c") and d.class_names == ("x y", "z")
    assert d.X.tolist() == [[1.5, 2.0], [-2.0, 3.0]]


def test_missing_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_csv(tmp_path / "none.csv", "t")
    with pytest.raises(DataError, match="no such file"):
        load_npz(tmp_path / "none.npz")


def test_npz_round_trip_and_errors(tmp_path):
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.array([0, 1] * 5)
    np.savez(tmp_path / "ok.npz", X=X, y=y, is_test=np.arange(10) < 3, classes=np.array(["a", "b"]),
             feature_names=np.array(["f", "g"]))
    d = load_npz(tmp_path / "ok.npz")
    assert d.name == "ok" and d.class_names == ("a", "b") and d.feature_names == ("f", "g")
    assert d.is_test.sum() == 3 and np.array_equal(d.X, X)
    np.savez(tmp_path / "nox.npz", y=y)
    with pytest.raises(DataError, match="missing array 'X'"):
        load_npz(tmp_path / "nox.npz")
    np.savez(tmp_path / "floaty.npz", X=X, y=y + 0.5)
    with pytest.raises(DataError, match="integer labels"):
        load_npz(tmp_path / "floaty.npz")
    np.savez(tmp_path / "pickled.npz", X=X, y=np.array([object()] * 10, dtype=object))
    with pytest.raises(DataError, match="pickled.npz"):
        load_npz(tmp_path / "pickled.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.npz"):
        load_npz(tmp_path / "junk.npz")


def test_bundled_and_env_datasets(tmp_path, monkeypatch):
    d = load_dataset("phoneme")
    assert d.X.shape == (5404, 5) and d.num_classes == 2 and d.is_test.sum() == 1081
    monkeypatch.setenv("DWN_MCU_DATA", str(tmp_path))
    np.savez(tmp_path / "mine.npz", X=np.ones((4, 1), np.float32), y=np.array([0, 1, 0, 1]))
    assert "mine" in available_datasets() and "phoneme" in available_datasets()
    assert load_dataset("mine").X.shape == (4, 1)
    with pytest.raises(DataError, match="unknown dataset 'other'.*mine"):
        load_dataset("other")
    monkeypatch.delenv("DWN_MCU_DATA")
    with pytest.raises(DataError, match="DWN_MCU_DATA"):
        load_dataset("mine")


def test_load_data_dispatch(tmp_path):
    with pytest.raises(DataError, match="--data PATH or --dataset NAME"):
        load_data()
    path = write(tmp_path, "a,t\n1,x\n2,y\n")
    with pytest.raises(DataError, match="--target"):
        load_data(str(path))
    assert load_data(str(path), "t").num_classes == 2


def test_stratified_split_is_seeded_and_keeps_every_class():
    y = np.array([0] * 50 + [1] * 10 + [2] * 2)
    m = stratified_split(y, 0.2, seed=3)
    assert [int(m[y == c].sum()) for c in range(3)] == [10, 2, 1]
    np.testing.assert_array_equal(m, stratified_split(y, 0.2, seed=3))
    assert not np.array_equal(m, stratified_split(y, 0.2, seed=4))


def test_names_the_model_file_would_refuse_are_refused_before_training(tmp_path):
    """One name rule: a CSV column or an .npz name longer than a model file allows fails at load, not at
    save() after training."""
    long = "c" * 65
    assert_one_line_error(write(tmp_path, f"{long},t\n1,x\n2,y\n"), "t", ["65 characters", "more than 64"])
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((4, 2), np.float32), y=np.array([0, 1, 0, 1]),
             feature_names=np.array(["a", "b\nc"]))
    with pytest.raises(DataError, match=r"feature_names\[1\] holds a control character") as err:
        load_npz(path)
    assert "\n" not in str(err.value)
