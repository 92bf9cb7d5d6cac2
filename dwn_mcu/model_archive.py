"""Bounded reading of a `.dwn` zip and of the `.npy` arrays inside it; nothing here trusts the file.

`open_archive` checks the zip's directory before anything is decompressed (member count, names,
duplicates, compression method, flags, declared sizes); `read_npy` reads one member's `.npy` header,
checks its dtype, shape and size against what the caller expects and a bound, and only then the data,
never more bytes than the directory declared. Every problem is a DWNFormatError naming the member.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib

import numpy as np

from .errors import DWNFormatError
from .model_limits import MAX_DIRECTORY_BYTES, MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_TOTAL_BYTES, shown

#: What a damaged member makes its stream raise while it is read (CRC, inflate, short data).
STREAM_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
#: What a damaged zip can make the standard library raise while its directory or a member is read.
ZIP_ERRORS = STREAM_ERRORS + (zipfile.LargeZipFile, ValueError, OverflowError, struct.error, UnicodeDecodeError)
#: General-purpose flag bits a member may have: deflate options, data descriptor, UTF-8 name. Not
#: encryption (0x1), compressed patch (0x20), strong encryption (0x40) or anything else.
_ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800
_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_MEMBER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}\.npy")
#: `.npy` format versions a member may have (3.0 only adds UTF-8 field names, which no member needs).
_NPY_VERSIONS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
_NPY_HEADER_BYTES = 4096


def open_archive(fh) -> tuple[zipfile.ZipFile, dict]:
    """Open the zip in binary file `fh`; return it and its members by name, after checking the directory."""
    try:
        end = zipfile._EndRecData(fh)  # the stdlib's own end-of-directory reader, so we check what it uses
        if end is None:
            raise zipfile.BadZipFile
        if end[zipfile._ECD_SIZE] > MAX_DIRECTORY_BYTES or end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS:
            raise DWNFormatError(
                f"zip directory: {end[zipfile._ECD_ENTRIES_TOTAL]} members in {end[zipfile._ECD_SIZE]} bytes, "
                f"at most {MAX_MEMBERS} members in {MAX_DIRECTORY_BYTES} bytes"
            )
        zf = zipfile.ZipFile(fh)
    except NotImplementedError as exc:  # a member needing a newer zip version than the stdlib reads
        raise DWNFormatError(f"zip directory: unsupported ({_one_line(exc)})") from None
    except ZIP_ERRORS:
        raise DWNFormatError("not a .dwn file (not a zip archive; truncated or another format)") from None
    try:
        return zf, _check_directory(zf.infolist())
    except BaseException:
        zf.close()
        raise


def _check_directory(infos) -> dict:
    if len(infos) > MAX_MEMBERS:
        raise DWNFormatError(f"zip directory: {len(infos)} members, at most {MAX_MEMBERS}")
    members, total = {}, 0
    for info in infos:
        name = info.filename
        if not _MEMBER_NAME.fullmatch(name):
            raise DWNFormatError(f"unexpected member {name[:80]!r} (members are NAME.npy arrays)")
        if name in members:
            raise DWNFormatError(f"{name}: appears twice in the zip directory")
        if info.compress_type not in _METHODS:
            raise DWNFormatError(f"{name}: compression method {info.compress_type}, only stored or deflated")
        if info.flag_bits & ~_ALLOWED_FLAGS:
            raise DWNFormatError(f"{name}: zip flags {info.flag_bits:#06x} (encrypted or unsupported)")
        if info.file_size > MAX_MEMBER_BYTES:
            raise DWNFormatError(f"{name}: declares {info.file_size} bytes, at most {MAX_MEMBER_BYTES}")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise DWNFormatError(f"zip directory: members declare more than {MAX_TOTAL_BYTES} bytes in all")
        members[name] = info
    return members


def read_npy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype, max_elements: int) -> np.ndarray:
    """The 1-D array of exactly `dtype` in member `info`, of at most `max_elements` elements."""
    name = info.filename
    try:
        with zf.open(info) as fp:
            count, offset = _read_npy_header(fp, name, dtype)
            size = count * dtype.itemsize
            if offset + size != info.file_size:
                raise DWNFormatError(
                    f"{name}: header declares {count} elements ({size} bytes of data), "
                    f"the member holds {info.file_size - offset}"
                )
            if count > max_elements:
                raise DWNFormatError(f"{name}: {count} elements, more than the model size limit allows ({max_elements})")
            data = fp.read(size)
            if len(data) != size or fp.read(1):
                raise DWNFormatError(f"{name}: holds {len(data)} bytes of data, its header declares {size}")
    except ZIP_ERRORS as exc:
        raise DWNFormatError(f"{name}: truncated or corrupt ({_one_line(exc)})") from None
    return np.frombuffer(data, dtype=dtype).copy()


def _read_npy_header(fp, name: str, dtype: np.dtype) -> tuple[int, int]:
    """Element count and data offset of the `.npy` stream `fp`, whose dtype must be `dtype` and 1-D."""
    try:
        version = np.lib.format.read_magic(fp)
        parse = _NPY_VERSIONS.get(version)
        header = parse(fp, max_header_size=_NPY_HEADER_BYTES) if parse else None
    except STREAM_ERRORS:
        raise  # the member itself is damaged: read_npy says so
    except Exception as exc:  # numpy parses at most _NPY_HEADER_BYTES of text; its errors are not documented
        # (ValueError, SyntaxError, tokenize.TokenError, RecursionError, ...): any of them means unreadable.
        raise DWNFormatError(f"{name}: unreadable .npy header ({type(exc).__name__}: {_one_line(exc)})") from None
    if header is None:
        raise DWNFormatError(f"{name}: .npy format version {version}, expected 1.0 or 2.0")
    shape, fortran_order, found = header
    if found.hasobject:
        raise DWNFormatError(f"{name}: holds Python objects (a pickle); refused")
    if found != dtype:
        raise DWNFormatError(f"{name}: dtype {found.str}, expected {dtype.str} ({dtype.name})")
    if len(shape) != 1 or fortran_order:
        raise DWNFormatError(f"{name}: shape {shown(shape)}{' in Fortran order' if fortran_order else ''}, expected 1-D")
    if shape[0] < 0:
        raise DWNFormatError(f"{name}: negative length {shape[0]}")
    return int(shape[0]), fp.tell()


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line, at most 200 characters (it may quote bytes from the file)."""
    return " ".join(str(exc).split())[:200]
