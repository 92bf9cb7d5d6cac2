"""Pack a frozen model's arrays into the byte tables the generated C reads. Pure NumPy, no C text.

* Thresholds become order-preserving 32-bit keys of their float32 bit patterns (`threshold_keys`): for
  non-NaN floats `a > b` exactly when `key(a) > key(b)`, once -0.0 is folded onto +0.0. The firmware
  compares keys with integer instructions, so the comparison is exact on every target (no soft-float
  library, no flush-to-zero of subnormals) and NaN is handled by one explicit test. Integer-input models
  keep their integer thresholds as they are: the firmware compares the integer input with them directly.
* LUT tables are bit streams, least significant bit first: bit `i` is `byte[i >> 3] >> (i & 7) & 1`.
  The table-driven layout stores each layer's tables back to back (2**n bits per LUT, no padding); the
  unrolled layout folds tables of at most 8 bits into immediates and keeps the rest byte-aligned.
* Mappings are stored in the narrowest unsigned type that holds the previous layer's bit count, except
  that the table-driven layout packs indices below 4096 into 12 bits (two in three bytes) where 8 would
  not do: 16-bit entries would cost 1.3x the information bound on a 1024-bit layer. The C splits an
  index into a byte offset (`i >> 3`) and a bit mask (`1 << (i & 7)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Union

import numpy as np

from ..frozen import FrozenDWN, LutLayer
from ..threshold_grid import float16_key
from .bdd import BranchCode, Diagram, branch_code, diagram

#: Tables of LUTs with at most this many inputs (2**3 = 8 bits) become immediates in the unrolled layout.
UNROLLED_IMMEDIATE_MAX_N = 3

_SIGN = np.uint32(0x80000000)


def threshold_keys(values) -> np.ndarray:
    """Order-preserving uint32 keys of float32 values (NaN is not ordered: callers handle it first)."""
    u = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).copy()
    u[u == _SIGN] = 0  # -0.0 compares equal to +0.0
    negative = (u & _SIGN) != 0
    return np.where(negative, ~u, u | _SIGN).astype(np.uint32)


def encode_with_keys(model: FrozenDWN, X) -> np.ndarray:
    """Layer 0's bits computed the way the firmware does (keys, NaN -> 0); tests hold it to `model.encode`."""
    X = np.asarray(X, dtype=np.float32)
    keys = threshold_keys(np.where(np.isnan(X), np.float32(0), X))
    keys[np.isnan(X)] = 0  # below every threshold's key: a NaN feature has all bits 0
    tkeys = threshold_keys(model.thresholds)
    return (keys[:, model.feature_of_bit] > tkeys[None, :]).astype(np.uint8)


def pack_bits(bits) -> np.ndarray:
    """0/1 values to bytes, least significant bit first; the last byte is zero-padded."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), bitorder="little")


def unpack_bits(data, count: int) -> np.ndarray:
    return np.unpackbits(np.asarray(data, dtype=np.uint8), bitorder="little", count=count)


def mapping_bytes(entries: int, fmt: str) -> int:
    return (3 * entries + 1) // 2 if fmt == "packed12" else entries * np.dtype(fmt).itemsize


def pack12(values) -> np.ndarray:
    """12-bit values, two in three bytes: e0 = b0 | (b1 & 15) << 8, e1 = b1 >> 4 | b2 << 4."""
    v = np.asarray(values, dtype=np.uint16)
    if v.size and v.max() >= 1 << 12:
        raise ValueError("value does not fit 12 bits")
    count = v.size
    v = np.concatenate([v, np.zeros(count % 2, np.uint16)]).reshape(-1, 2)
    out = np.empty((v.shape[0], 3), dtype=np.uint8)
    out[:, 0] = v[:, 0] & 0xFF
    out[:, 1] = (v[:, 0] >> 8) | ((v[:, 1] & 0x0F) << 4)
    out[:, 2] = v[:, 1] >> 4
    return out.reshape(-1)[: (3 * count + 1) // 2]


def unpack12(data, count: int) -> np.ndarray:
    b = np.concatenate([np.asarray(data, dtype=np.uint16), np.zeros(2, np.uint16)])
    g = np.arange(count)
    p = 3 * (g // 2) + (g % 2)
    even = b[p] | ((b[p + 1] & 0x0F) << 8)
    odd = (b[p] >> 4) | (b[p + 1] << 4)
    return np.where(g % 2 == 0, even, odd).astype(np.int64)


def narrowest_uint(max_value: int) -> np.dtype:
    """The narrowest of uint8/16/32 that holds `max_value`."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"{max_value} does not fit 32 bits")


class SearchLeaf(NamedTuple):
    """The end of a generated search: the feature's rank (thresholds below x); `nan_guard`: the leaf above
    every non-negative threshold of a float feature, where a positive NaN's bit pattern also lands (its
    rank is 0)."""

    rank: int
    nan_guard: bool = False


class SearchNode(NamedTuple):
    """One comparison of a generated search: `x > t` for the threshold `t`, written as `literal`
    (`SearchTree` says how it is compared); `above` when it holds, else `below`."""

    literal: int
    above: "SearchTree"
    below: "SearchTree"


SearchTree = Union[SearchNode, SearchLeaf]


@dataclass(frozen=True)
class FeatureSearch:
    """The immediate encoder's search for one feature (`plan.encoder_search == "immediate"`), a balanced
    binary tree of comparisons with the thresholds as constants. Float features: `u` is x's float32 bit
    pattern; `negative` (taken when its sign bit is set) compares `u < literal` with the negative
    thresholds' patterns (a larger pattern is a smaller value), `positive` compares `u > literal` with the
    others' (-0.0 folded onto +0.0). Integer features: `positive` alone, `x > literal`."""

    negative: SearchTree | None
    positive: SearchTree | None


@dataclass(frozen=True, eq=False)
class PackedEncoder:
    keys: np.ndarray  # (total_bits,) feature-major: uint32 keys (float models) or int64 thresholds (integer)
    counts: np.ndarray  # (F,) thresholds per feature, narrowest unsigned type
    searches: tuple = ()  # one FeatureSearch per feature when the planner chose the immediate encoder


@dataclass(frozen=True, eq=False)
class PackedTableLayer:
    """A layer for the table-driven loop."""

    n_inputs: np.ndarray  # (L,) uint8; the C reads it only when the layer is not uniform
    mapping_format: str  # uint8 | packed12 | uint16 | uint32 (the planner's `LayerPlan.map_format`)
    mapping: np.ndarray  # (sum n,) entries, or uint8 bytes when packed12
    tables: np.ndarray  # uint8, the layer's table bits back to back, LSB first
    table_bits: int
    # the same stream as 32-bit words (bit i is `word[i >> 5] >> (i & 31) & 1`), for the word path of
    # 32-bit machines (`plan.word_path_eligible`); the last word zero-padded
    table_words: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    # AVR's aligned fast path (`plan.LayerPlan.avr_aligned`): per LUT one record, `pad` zero bytes, its n
    # mapping bytes, its 2^(n-3) table bytes, so one pointer (Z) walks both; empty otherwise
    records: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))

    @property
    def table_words_reversed(self) -> np.ndarray:
        """`table_words` with each word's bits reversed (bit i at 31 - i): Cortex-M0+'s class loop shifts
        the LUT's bit into bit 31 (`lsls` by the address sets N), one shift fewer than into the carry."""
        return reverse_word_bits(self.table_words)


@dataclass(frozen=True, eq=False)
class UnrolledLut:
    inputs: tuple  # ((byte offset, bit mask), ...) per input slot, slot 0 first
    immediate: int | None  # table as an integer when n <= UNROLLED_IMMEDIATE_MAX_N
    offset: int | None  # byte offset of the table in the layer's flash array otherwise
    # diagram form (`plan.LayerPlan.diagram_luts`): the LUT as branch code and no table (immediate and
    # offset None); the diagram it walks
    branch: BranchCode | None = None
    diagram: Diagram | None = None
    # layer 1 reading the encoder's ranks (`plan.Plan.rank_inputs`): per input slot (feature f, index i),
    # tested as rank[f] > i; None where the layer reads bits
    ranks: tuple | None = None
    rank_loads: tuple = ()  # with ranks: AVR's rank assembly's schedule (`avr_rank_loads`)

    @property
    def rank_registers(self) -> int:
        """Registers the AVR rank assembly holds ranks in for this LUT."""
        return 1 + max((r for _, r, _ in self.rank_loads), default=-1)


@dataclass(frozen=True, eq=False)
class PackedUnrolledLayer:
    luts: tuple[UnrolledLut, ...]
    tables: np.ndarray  # uint8, byte-aligned tables of the LUTs with more than 8 table bits


def pack_encoder(model: FrozenDWN, key_ctype: str, count_ctype: str, search: str = "table") -> PackedEncoder:
    """Thresholds as the encoder's keys and the counts per feature, in the planner's types
    (`plan.key_ctype`, `plan.count_ctype`); with `search="immediate"` (`plan.encoder_search`) also each
    feature's search tree."""
    counts = model.bits_per_feature
    dtype = np.dtype(count_ctype.removesuffix("_t"))
    if model.input_type == "float32" and key_ctype == "uint16_t":
        keys = float16_key(model.thresholds).astype(np.int64)  # the planner's uint16_t keys
    elif model.input_type == "float32":
        keys = threshold_keys(model.thresholds)
    else:
        keys = model.thresholds.astype(np.int64)  # integers in [min - 1, max], exact in float32
    searches = ()
    if search == "immediate":
        starts = np.concatenate([[0], np.cumsum(counts.astype(np.int64))])
        searches = tuple(feature_search(model.thresholds[starts[f]:starts[f + 1]], model.input_type == "float32")
                         for f in range(model.num_features))
    return PackedEncoder(keys=keys, counts=counts.astype(dtype), searches=searches)


def _tree(literals: list, lo: int, hi: int, offset: int, nan_guard: bool) -> SearchTree:
    """Balanced search over `literals[lo:hi]` (increasing values): the rank `offset + (thresholds below x)`."""
    if lo == hi:
        return SearchLeaf(offset + lo, nan_guard and hi == len(literals))
    mid = (lo + hi) // 2
    return SearchNode(literals[mid], _tree(literals, mid + 1, hi, offset, nan_guard),
                      _tree(literals, lo, mid, offset, nan_guard))


def feature_search(thresholds, is_float: bool) -> FeatureSearch:
    """One feature's search tree (`FeatureSearch`) from its increasing thresholds."""
    if not is_float:
        values = [int(v) for v in np.asarray(thresholds, dtype=np.float64)]
        return FeatureSearch(None, _tree(values, 0, len(values), 0, False) if values else None)
    t = np.asarray(thresholds, dtype=np.float32)
    if t.size == 0:
        return FeatureSearch(None, None)
    bits = t.view(np.uint32).copy()
    bits[bits == _SIGN] = 0  # -0.0 is +0.0 to a comparison
    negative = (bits & _SIGN) != 0
    neg, pos = [int(b) for b in bits[negative]], [int(b) for b in bits[~negative]]
    return FeatureSearch(_tree(neg, 0, len(neg), 0, False) if neg else None,
                         _tree(pos, 0, len(pos), len(neg), True))


def pack_table_layer(layer: LutLayer, fmt: str, record_pad: int | None = None) -> PackedTableLayer:
    """A layer for the table-driven loop, its mapping stored as `fmt` (the planner's `map_format`);
    `record_pad` (not None: AVR's aligned fast path, a uniform n >= 3 and byte entries) adds the records."""
    records = np.zeros(0, np.uint8)
    if record_pad is not None:
        records = pack_records(layer, max(record_pad, 0))
    return PackedTableLayer(
        n_inputs=layer.n_inputs.astype(np.uint8),
        mapping_format=fmt,
        mapping=pack12(layer.mapping) if fmt == "packed12" else layer.mapping.astype(fmt),
        tables=pack_bits(layer.tables),
        table_bits=int(layer.tables.size),
        table_words=pack_words(layer.tables),
        records=records,
    )


def pack_records(layer: LutLayer, pad: int) -> np.ndarray:
    """One record per LUT: `pad` zeros, the LUT's mapping entries as bytes (slot 0 first), its table bytes."""
    n = int(layer.n_inputs[0])
    mapping = layer.mapping.astype(np.uint8).reshape(layer.num_luts, n)
    tables = pack_bits(layer.tables).reshape(layer.num_luts, 1 << (n - 3))
    return np.concatenate([np.zeros((layer.num_luts, pad), np.uint8), mapping, tables], axis=1).reshape(-1)


def pack_words(bits) -> np.ndarray:
    """0/1 values to uint32 words, least significant bit first (word values, so no byte order enters)."""
    data = pack_bits(bits)
    data = np.concatenate([data, np.zeros(-data.size % 4, np.uint8)]).astype(np.uint32).reshape(-1, 4)
    return (data << np.array([0, 8, 16, 24], dtype=np.uint32)).sum(axis=1, dtype=np.uint32)


def reverse_word_bits(words) -> np.ndarray:
    """Each uint32 word with its 32 bits in reverse order."""
    bits = np.unpackbits(np.asarray(words, dtype="<u4").view(np.uint8), bitorder="little").reshape(-1, 32)
    return np.packbits(bits[:, ::-1], bitorder="little").view("<u4").astype(np.uint32)


def rank_inputs(counts) -> np.ndarray:
    """(feature, index within the feature) of each thermometer bit, feature-major as the encoder orders
    them: bit i of feature f is set exactly when rank[f] > i (`plan.rank_inputs`)."""
    counts = np.asarray(counts, dtype=np.int64)
    feature = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    return np.stack([feature, np.arange(feature.size, dtype=np.int64) - starts[feature]], axis=1)


#: d registers (r16..r31) the AVR rank assembly keeps ranks in, one per feature a LUT reads: an input of a
#: feature already in a register needs no `lds` (2 cycles)
AVR_RANK_REGISTERS = 4


def avr_rank_loads(ranks) -> tuple:
    """The AVR rank assembly's inputs in the order it tests them (slots n-1 .. 3, then 1, 2, 0:
    layout_unrolled.c.j2), each (slot, register, load): the first `AVR_RANK_REGISTERS` - 1 features met
    keep a register each, the others share the last and are loaded again only when that register holds
    another feature (all of them keep one when they are that few)."""
    n = len(ranks)
    order = [*range(n - 1, 2, -1), 1, 2, 0]
    features = list(dict.fromkeys(ranks[k][0] for k in order))
    own = len(features) if len(features) <= AVR_RANK_REGISTERS else AVR_RANK_REGISTERS - 1
    reg = {f: i for i, f in enumerate(features[:own])}
    out, held = [], {}
    for k in order:
        f = ranks[k][0]
        r = reg.get(f, own)
        out.append((k, r, held.get(r) != f))
        held[r] = f
    return tuple(out)


def pack_unrolled_layer(layer: LutLayer, diagram_luts=(), counts=None) -> PackedUnrolledLayer:
    """A layer for the unrolled layout; LUT j in diagram form where `diagram_luts[j]` (the planner's
    choice, `plan.LayerPlan.diagram_luts`; missing: table form). `counts` (thresholds per feature; layer 1
    when the plan's `rank_inputs`): each input is also given as (feature, index) for the rank compare."""
    luts, chunks, offset = [], [], 0
    where = None if counts is None else rank_inputs(counts)
    for j in range(layer.num_luts):
        table = layer.lut_table(j)
        idx = layer.lut_inputs(j)
        inputs = tuple((int(i) >> 3, 1 << (int(i) & 7)) for i in idx)
        ranks = None if where is None else tuple((int(where[i, 0]), int(where[i, 1])) for i in idx)
        loads = avr_rank_loads(ranks) if ranks and len(ranks) >= 3 else ()
        if j < len(diagram_luts) and diagram_luts[j]:
            d = diagram(table)
            luts.append(UnrolledLut(inputs, None, None, branch_code(d), d, ranks, loads))
        elif idx.size <= UNROLLED_IMMEDIATE_MAX_N:
            value = int(np.dot(table.astype(np.int64), np.int64(1) << np.arange(table.size, dtype=np.int64)))
            luts.append(UnrolledLut(inputs, value, None, ranks=ranks, rank_loads=loads))
        else:
            data = pack_bits(table)
            luts.append(UnrolledLut(inputs, None, offset, ranks=ranks, rank_loads=loads))
            chunks.append(data)
            offset += data.size
    tables = np.concatenate(chunks) if chunks else np.zeros(0, np.uint8)
    return PackedUnrolledLayer(luts=tuple(luts), tables=tables)


# ------------------------------------------------------------------------------ reading packed data back
def table_layer_lut(packed: PackedTableLayer, j: int) -> tuple[np.ndarray, np.ndarray]:
    """(mapping, table bits) of LUT `j`, read from the packed arrays the way the C loop walks them."""
    n = packed.n_inputs.astype(np.int64)
    m0 = int(n[:j].sum())
    t0 = int((np.int64(1) << n[:j]).sum())
    size = 1 << int(n[j])
    bits = unpack_bits(packed.tables, packed.table_bits)[t0 : t0 + size]
    if packed.mapping_format == "packed12":
        entries = unpack12(packed.mapping, int(n.sum()))
    else:
        entries = packed.mapping.astype(np.int64)
    return entries[m0 : m0 + int(n[j])], bits


def unrolled_lut(packed: PackedUnrolledLayer, j: int) -> tuple[np.ndarray, np.ndarray]:
    """(mapping, table bits) of LUT `j` of an unrolled layer, recovered from bytes, masks and tables."""
    lut = packed.luts[j]
    mapping = np.array([(b << 3) + int(m).bit_length() - 1 for b, m in lut.inputs], dtype=np.int64)
    size = 1 << len(lut.inputs)
    if lut.diagram is not None:
        bits = np.array([lut.diagram.evaluate(a) for a in range(size)])
    elif lut.immediate is not None:
        bits = (lut.immediate >> np.arange(size)) & 1
    else:
        bits = unpack_bits(packed.tables[lut.offset : lut.offset + size // 8], size)
    return mapping, bits.astype(np.uint8)
