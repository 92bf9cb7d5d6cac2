"""Helpers that take `.dwn` bytes apart and put hostile ones together (for the model-file tests)."""

import io
import json
import struct
import warnings
import zipfile

import numpy as np

from dwn_mcu.integer_inputs import to_integer_model
from dwn_mcu.synthetic import random_model, random_reduction_model


def base_models():
    """A small popcount model, an integer-input model and a learnable-reduction model."""
    popcount = random_model(seed=1, num_features=4, bits_per_feature=[3, 0, 5, 2], luts=(30, 9), n=[5, 2],
                            num_classes=3)
    integer = to_integer_model(random_model(seed=2, num_features=3, luts=(12,), n=3), "int16", [0.01, 0.5, 1.0],
                               [1.0, -3.0, 0.0])
    reduction = random_reduction_model(seed=3, num_features=3, bits_per_feature=4, n=3)
    return {"popcount": popcount, "integer": integer, "reduction": reduction}


def members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rezip(items, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of `items` (a dict, or (name, bytes) pairs, which may repeat a name)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is the point of some mutants
        with zipfile.ZipFile(buf, "w", compression=compression) as zf:
            for name, raw in (items.items() if isinstance(items, dict) else items):
                zf.writestr(name, raw)
    return buf.getvalue()


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def npy_declaring(descr: str, shape: tuple, payload: bytes = b"") -> bytes:
    """A `.npy` whose header declares `descr` and `shape`, followed by `payload` (whatever its length)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def npy_with_header_text(text: str, payload: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A `.npy` whose header is `text`, verbatim (padded with spaces to a 64-byte boundary)."""
    body = text.encode("latin-1")
    length = len(body) + (-(len(body) + 10)) % 64
    size = struct.pack("<H", length) if version == b"\x01\x00" else struct.pack("<I", length)
    return b"\x93NUMPY" + version + size + body.ljust(length, b" ") + payload


def header_of(data: bytes) -> dict:
    raw = members(data)["header.npy"]
    return json.loads(np.lib.format.read_array(io.BytesIO(raw)).tobytes())


def with_header_text(data: bytes, text: str) -> bytes:
    m = members(data)
    m["header.npy"] = npy(np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8))
    return rezip(m)


def with_header(data: bytes, **changes) -> bytes:
    header = header_of(data)
    header.update(changes)
    return with_header_text(data, json.dumps(header))


def with_array(data: bytes, name: str, array) -> bytes:
    m = members(data)
    m[name + ".npy"] = array if isinstance(array, bytes) else npy(array)
    return rezip(m)


def patch_entry(data: bytes, name: str, flag_bits=None, method=None, file_size=None) -> bytes:
    """Overwrite fields of member `name`'s central directory entry and local header (sizes: directory only)."""
    out = bytearray(data)
    end = data.rfind(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack_from("<HII", data, end + 10)
    pos = cd_offset
    for _ in range(count):
        n_name, n_extra, n_comment = struct.unpack_from("<HHH", data, pos + 28)
        local = struct.unpack_from("<I", data, pos + 42)[0]
        if data[pos + 46 : pos + 46 + n_name] == name.encode():
            for value, cd_at, local_at, fmt in ((flag_bits, 8, 6, "<H"), (method, 10, 8, "<H"),
                                                (file_size, 24, None, "<I")):
                if value is not None:
                    struct.pack_into(fmt, out, pos + cd_at, value)
                    if local_at is not None:
                        struct.pack_into(fmt, out, local + local_at, value)
            return bytes(out)
        pos += 46 + n_name + n_extra + n_comment
    raise KeyError(name)


def deflate_bomb(name: str, size: int, prefix: bytes = b"") -> bytes:
    """A zip whose one member `name` inflates to `prefix` and `size` zero bytes, written in 1 MiB chunks."""
    buf = io.BytesIO()
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as fh:
            fh.write(prefix)
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    return buf.getvalue()
