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

The writer fixes every zip timestamp, so saving the same model twice gives identical bytes.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import DWNFormatError
from .frozen import INPUT_TYPES, FrozenDWN, LutLayer

FORMAT_NAME = "dwn"
FORMAT_VERSION = 3
SUPPORTED_VERSIONS = (1, 2, 3)
#: Input types each format version can hold.
VERSION_INPUT_TYPES = {1: ("float32",), 2: tuple(INPUT_TYPES), 3: tuple(INPUT_TYPES)}
#: First format version with the header field "output" (a learnable reduction).
OUTPUT_FIELD_VERSION = 3

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
    """Write `model` to `path` atomically (a temporary file in the same folder, then a rename)."""
    data = to_bytes(model)
    write_atomic(Path(path), data)


def write_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path) -> FrozenDWN:
    """Read and validate a `.dwn` file. Any problem raises DWNFormatError naming the file and field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DWNFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return from_bytes(data)
    except DWNFormatError as exc:
        raise DWNFormatError(f"{path}: {exc}") from None


def from_bytes(data: bytes) -> FrozenDWN:
    arrays = _read_arrays(data)
    header = _read_header(arrays)
    want = {"header", "thresholds", "bits_per_feature", "class_bias"}
    integer = header["input_type"] != "float32"
    if integer:
        want |= {"input_scale", "input_offset"}
    for i in range(1, header["num_layers"] + 1):
        want |= {f"layer{i}_n_inputs", f"layer{i}_mapping", f"layer{i}_tables"}
    missing, extra = want - arrays.keys(), arrays.keys() - want
    if missing:
        raise DWNFormatError(f"missing array {sorted(missing)[0]!r}")
    if extra:
        raise DWNFormatError(f"unexpected array {sorted(extra)[0]!r}")

    def get(name, kinds, ndim=1):
        a = arrays[name]
        if a.dtype.kind not in kinds or a.ndim != ndim:
            raise DWNFormatError(f"{name}: dtype {a.dtype} with {a.ndim} dimensions is not allowed")
        return a

    thresholds = get("thresholds", "f")
    if thresholds.dtype != np.float32:
        raise DWNFormatError(f"thresholds: dtype {thresholds.dtype}, expected float32")
    layers = []
    for i in range(1, header["num_layers"] + 1):
        n_inputs = get(f"layer{i}_n_inputs", "u").astype(np.int64)
        mapping = get(f"layer{i}_mapping", "iu").astype(np.int64)
        packed = get(f"layer{i}_tables", "u")
        if n_inputs.size and n_inputs.max() > 16:
            raise DWNFormatError(f"layer{i}_n_inputs: a LUT has more than 16 inputs")
        need = int((np.int64(1) << n_inputs).sum())
        if packed.size != (need + 7) // 8:
            raise DWNFormatError(f"layer{i}_tables: {packed.size} bytes, n_inputs needs {(need + 7) // 8}")
        tables = np.unpackbits(packed, bitorder="little", count=need)
        layers.append(LutLayer(n_inputs=n_inputs, mapping=mapping, tables=tables))
    model = FrozenDWN(
        thresholds=thresholds,
        bits_per_feature=get("bits_per_feature", "iu"),
        layers=tuple(layers),
        num_classes=header["num_classes"],
        class_bias=get("class_bias", "iu"),
        class_names=header["class_names"],
        feature_names=header["feature_names"],
        metadata=header["metadata"],
        input_type=header["input_type"],
        input_scale=get("input_scale", "f") if integer else None,
        input_offset=get("input_offset", "f") if integer else None,
        reduction_layers=header["reduction_layers"],
    )
    if model.num_features != header["num_features"]:
        raise DWNFormatError(
            f"bits_per_feature: {model.num_features} features, header says {header['num_features']}"
        )
    return model.validate()


def _read_arrays(data: bytes) -> dict:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DWNFormatError("not a .dwn file (not a zip archive; truncated or another format)") from None
    arrays = {}
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy") or "/" in info.filename:
                raise DWNFormatError(f"unexpected member {info.filename!r}")
            try:
                raw = zf.read(info)
                arrays[info.filename[:-4]] = np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
            except ValueError as exc:
                if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                    raise DWNFormatError(f"{info.filename}: holds Python objects (a pickle); refused") from None
                raise DWNFormatError(f"{info.filename}: unreadable array ({exc})") from None
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
                raise DWNFormatError(f"{info.filename}: truncated or corrupt ({exc})") from None
    return arrays


def _read_header(arrays: dict) -> dict:
    if "header" not in arrays:
        raise DWNFormatError("missing array 'header'")
    raw = arrays["header"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise DWNFormatError("header: must be a 1-D uint8 array of UTF-8 JSON")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DWNFormatError(f"header: not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise DWNFormatError("header: 'format' is not 'dwn'")
    version = header.get("version")
    if version not in SUPPORTED_VERSIONS:
        raise DWNFormatError(
            f"header: format version {version!r} is not supported (this dwn-mcu reads {SUPPORTED_VERSIONS})"
        )
    types = {
        "num_features": int,
        "num_classes": int,
        "num_layers": int,
        "input_type": str,
        "class_names": list,
        "feature_names": list,
        "metadata": dict,
    }
    for key, typ in types.items():
        if not isinstance(header.get(key), typ) or isinstance(header.get(key), bool):
            raise DWNFormatError(f"header: field {key!r} missing or not of type {typ.__name__}")
    allowed = VERSION_INPUT_TYPES[version]
    if header["input_type"] not in allowed:
        raise DWNFormatError(
            f"header: input_type {header['input_type']!r} is not one of {', '.join(allowed)} (format version {version})"
        )
    if not 1 <= header["num_layers"] <= 64:
        raise DWNFormatError(f"header: num_layers {header['num_layers']} outside 1..64")
    header["reduction_layers"] = _read_output(header, version)
    return header


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
        raise DWNFormatError(f"header: output.reduction_layers {R} outside 1..{header['num_layers'] - 1}")
    return R
