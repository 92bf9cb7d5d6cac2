"""The `.dwn` file: a zip of `.npy` arrays plus a JSON header, never a pickle.

Layout (format version 3; version 1 files, which predate integer inputs, and version 2 files, which
predate the learnable reduction, still load as popcount models):

    header.npy                 uint8, UTF-8 JSON: {"format": "dwn", "version": 3, "num_features",
                               "num_classes", "num_layers", "input_type", "class_names",
                               "feature_names", "metadata", "output"}; "output" (version 3) is
                               "popcount" or {"kind": "reduction", "reduction_layers": R}: the last R
                               layers are a learnable reduction (docs/learnable-reduction.md)
    thresholds.npy             float32 (total_bits,)
    bits_per_feature.npy       int32 (F,)
    class_bias.npy             int32 (C,)
    layer{i}_n_inputs.npy      uint8 (L_i,)
    layer{i}_mapping.npy       int32 (sum n,)
    layer{i}_tables.npy        uint8 (sum 2**n,), bits packed with np.packbits (bit order "little")
    input_scale.npy            float64 (F,), integer input types only (version 2)
    input_offset.npy           float64 (F,), integer input types only (version 2)

Every array is 1-D, little-endian, of exactly the dtype listed (all versions wrote these). The loader
treats every file as hostile: the zip directory, each `.npy` header and the JSON header are checked
against the bounds in `model_limits` before any data is read (`model_archive`), then the arrays' values
by `FrozenDWN.validate`; any problem is one DWNFormatError naming the field.

The writer fixes every zip timestamp, so saving the same model twice gives identical bytes.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic_write import write_file
from .errors import DWNFormatError
from .frozen import INPUT_TYPES, MAX_LUT_INPUTS, FrozenDWN, LutLayer
from .model_archive import open_archive, read_npy
from .model_limits import (
    MAX_COUNT,
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    MAX_JSON_DEPTH,
    MAX_LAYERS,
    MAX_MODEL_BYTES,
    check_names,
    json_depth,
    shown,
)

FORMAT_NAME = "dwn"
FORMAT_VERSION = 3
SUPPORTED_VERSIONS = (1, 2, 3)
#: Input types each format version can hold.
VERSION_INPUT_TYPES = {1: ("float32",), 2: tuple(INPUT_TYPES), 3: tuple(INPUT_TYPES)}
#: First format version with the header field "output" (a learnable reduction).
OUTPUT_FIELD_VERSION = 3

#: The exact dtype of every array (by field; `layer{i}_` dropped), as every format version wrote it.
DTYPES = {
    name: np.dtype(code)
    for name, code in {
        "header": "|u1", "thresholds": "<f4", "bits_per_feature": "<i4", "class_bias": "<i4",
        "input_scale": "<f8", "input_offset": "<f8", "n_inputs": "|u1", "mapping": "<i4", "tables": "|u1",
    }.items()
}
#: Bytes one stored element takes in the loaded model (int64 counts and mappings; a packed table byte
#: unpacks to 8 one-byte bits): what MAX_MODEL_BYTES bounds.
LOADED_BYTES = {"thresholds": 4, "bits_per_feature": 8, "class_bias": 8, "input_scale": 8, "input_offset": 8,
                "n_inputs": 8, "mapping": 8, "tables": 8}

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def to_bytes(model: FrozenDWN) -> bytes:
    """Serialise a model to the bytes of a `.dwn` file (deterministic)."""
    model.validate()
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "num_features": model.num_features,
        "num_classes": model.num_classes,
        "num_layers": len(model.layers),
        "input_type": model.input_type,
        "class_names": list(model.class_names),
        "feature_names": list(model.feature_names),
        "metadata": model.metadata,
        "output": (
            {"kind": "reduction", "reduction_layers": model.reduction_layers} if model.reduction_layers else "popcount"
        ),
    }
    arrays = {
        "header": np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8),
        "thresholds": model.thresholds.astype(np.float32),
        "bits_per_feature": model.bits_per_feature.astype(np.int32),
        "class_bias": model.class_bias.astype(np.int32),
    }
    if model.input_type != "float32":
        arrays["input_scale"] = model.input_scale.astype(np.float64)
        arrays["input_offset"] = model.input_offset.astype(np.float64)
    for i, layer in enumerate(model.layers, start=1):
        arrays[f"layer{i}_n_inputs"] = layer.n_inputs.astype(np.uint8)
        arrays[f"layer{i}_mapping"] = layer.mapping.astype(np.int32)
        arrays[f"layer{i}_tables"] = np.packbits(layer.tables.astype(np.uint8), bitorder="little")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, _npy_bytes(array))
    return buf.getvalue()


def save(model: FrozenDWN, path) -> None:
    """Write `model` to `path` atomically (a temporary file in the same folder, then a rename), creating
    missing parent folders. A location that cannot be written raises OutputError naming the path."""
    data = to_bytes(model)
    write_file(path, data)


def load(path) -> FrozenDWN:
    """Read and validate a `.dwn` file. Any problem raises DWNFormatError naming the file and field."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, a FIFO (opening one would block), a device
        raise DWNFormatError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            return _from_file(fh, size)
    except OSError as exc:
        raise DWNFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except DWNFormatError as exc:
        raise DWNFormatError(f"{path}: {exc}") from None


def from_bytes(data: bytes) -> FrozenDWN:
    """The model in the bytes of a `.dwn` file (as `load`, without the file name in messages)."""
    return _from_file(io.BytesIO(data), len(data))


def _from_file(fh, size: int) -> FrozenDWN:
    if size > MAX_FILE_BYTES:
        raise DWNFormatError(f"{size} bytes, more than a .dwn file may have ({MAX_FILE_BYTES})")
    zf, members = open_archive(fh)
    with zf:
        header = _read_header(zf, members)
        arrays = _read_arrays(zf, members, _member_names(header))
    return _build_model(header, arrays)


def _member_names(header: dict) -> list[str]:
    names = ["header", "thresholds", "bits_per_feature", "class_bias"]
    if header["input_type"] != "float32":
        names += ["input_scale", "input_offset"]
    for i in range(1, header["num_layers"] + 1):
        names += [f"layer{i}_n_inputs", f"layer{i}_mapping", f"layer{i}_tables"]
    return names


def _field(name: str) -> str:
    """The format's field of array `name`: `layer3_mapping` is a `mapping`."""
    return name.split("_", 1)[1] if name.startswith("layer") else name


def _read_arrays(zf, members: dict, names: list[str]) -> dict:
    """Every array but the header, each of its documented dtype, within MAX_MODEL_BYTES once loaded."""
    have = {m[:-4] for m in members}
    missing, extra = set(names) - have, have - set(names)
    if missing:
        raise DWNFormatError(f"missing array {sorted(missing)[0]!r}")
    if extra:
        raise DWNFormatError(f"unexpected array {sorted(extra)[0]!r}")
    arrays, budget = {}, MAX_MODEL_BYTES
    for name in names[1:]:
        cost = LOADED_BYTES[_field(name)]
        arrays[name] = read_npy(zf, members[name + ".npy"], DTYPES[_field(name)], budget // cost)
        budget -= arrays[name].size * cost
    return arrays


def _read_header(zf, members: dict) -> dict:
    if "header.npy" not in members:
        raise DWNFormatError("missing array 'header'")
    raw = read_npy(zf, members["header.npy"], DTYPES["header"], MAX_HEADER_BYTES)
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, a 5000-digit int
        reason = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:200]
        raise DWNFormatError(f"header: not valid JSON ({reason})") from None
    if json_depth(header) > MAX_JSON_DEPTH:
        raise DWNFormatError(f"header: JSON nested deeper than {MAX_JSON_DEPTH}")
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise DWNFormatError("header: 'format' is not 'dwn'")
    version = header.get("version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise DWNFormatError(
            f"header: format version {shown(version)} is not supported (this dwn-mcu reads {SUPPORTED_VERSIONS})"
        )
    for key, typ in _HEADER_TYPES.items():
        if not isinstance(header.get(key), typ) or isinstance(header.get(key), bool):
            raise DWNFormatError(f"header: field {key!r} missing or not of type {typ.__name__}")
    for key in ("num_features", "num_classes"):
        if not 0 <= header[key] <= MAX_COUNT:
            raise DWNFormatError(f"header: {key} {shown(header[key])} outside 0..{MAX_COUNT}")
    check_names("class_names", header["class_names"])
    check_names("feature_names", header["feature_names"])
    allowed = VERSION_INPUT_TYPES[version]
    if header["input_type"] not in allowed:
        raise DWNFormatError(
            f"header: input_type {shown(header['input_type'])} is not one of {', '.join(allowed)} (format version {version})"
        )
    if not 1 <= header["num_layers"] <= MAX_LAYERS:
        raise DWNFormatError(f"header: num_layers {shown(header['num_layers'])} outside 1..{MAX_LAYERS}")
    header["reduction_layers"] = _read_output(header, version)
    return header


_HEADER_TYPES = {
    "num_features": int,
    "num_classes": int,
    "num_layers": int,
    "input_type": str,
    "class_names": list,
    "feature_names": list,
    "metadata": dict,
}


def _read_output(header: dict, version: int) -> int:
    """The number of reduction layers the header's "output" field declares (0: popcount)."""
    if "output" not in header:
        if version >= OUTPUT_FIELD_VERSION:
            raise DWNFormatError("header: field 'output' missing")
        return 0
    output = header["output"]
    if version < OUTPUT_FIELD_VERSION:
        raise DWNFormatError(f"header: field 'output' needs format version {OUTPUT_FIELD_VERSION}, file says {version}")
    if output == "popcount":
        return 0
    R = output.get("reduction_layers") if isinstance(output, dict) else None
    if not isinstance(output, dict) or output.get("kind") != "reduction" or not isinstance(R, int) or isinstance(R, bool):
        raise DWNFormatError(
            "header: field 'output' must be \"popcount\" or {\"kind\": \"reduction\", \"reduction_layers\": R}"
        )
    if not 1 <= R < header["num_layers"]:
        raise DWNFormatError(f"header: output.reduction_layers {shown(R)} outside 1..{header['num_layers'] - 1}")
    return R


def _build_model(header: dict, arrays: dict) -> FrozenDWN:
    """The FrozenDWN of checked arrays (each of its documented dtype), validated."""
    layers = []
    for i in range(1, header["num_layers"] + 1):
        n_inputs = arrays.pop(f"layer{i}_n_inputs").astype(np.int64)
        packed = arrays.pop(f"layer{i}_tables")
        if n_inputs.size and n_inputs.max() > MAX_LUT_INPUTS:
            raise DWNFormatError(f"layer{i}_n_inputs: a LUT has more than {MAX_LUT_INPUTS} inputs")
        need = int((np.int64(1) << n_inputs).sum())
        if packed.size != (need + 7) // 8:
            raise DWNFormatError(f"layer{i}_tables: {packed.size} bytes, n_inputs needs {(need + 7) // 8}")
        tables = np.unpackbits(packed, bitorder="little", count=need)
        mapping = arrays.pop(f"layer{i}_mapping").astype(np.int64)
        layers.append(LutLayer(n_inputs=n_inputs, mapping=mapping, tables=tables))
    integer = header["input_type"] != "float32"
    model = FrozenDWN(
        thresholds=arrays["thresholds"],
        bits_per_feature=arrays["bits_per_feature"],
        layers=tuple(layers),
        num_classes=header["num_classes"],
        class_bias=arrays["class_bias"],
        class_names=header["class_names"],
        feature_names=header["feature_names"],
        metadata=header["metadata"],
        input_type=header["input_type"],
        input_scale=arrays["input_scale"] if integer else None,
        input_offset=arrays["input_offset"] if integer else None,
        reduction_layers=header["reduction_layers"],
    )
    if model.num_features != header["num_features"]:
        raise DWNFormatError(
            f"bits_per_feature: {model.num_features} features, header says {header['num_features']}"
        )
    return model.validate()
