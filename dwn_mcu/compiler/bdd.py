"""Reduced ordered binary decision diagrams of single LUTs, and the branch code that walks one.

A LUT of n inputs is a function of n bits; its table's bit `a` is the output for the address
a = sum(input_k << k) (input slot 0 is the address's least significant bit, as `pack` stores it). Its
diagram tests one input per node and follows the 1 or the 0 edge until a constant: branch code that
reads only the inputs the path needs (as an inline decision tree does), instead of forming an address and
reading a table. Pure functions of the table bits, no C text:

* `best_order`: the variable order with the fewest nodes, exactly (Friedman and Supowit's dynamic
  programme over the sets of variables above a level: the nodes of variable x under the set T above it
  are the distinct cofactors of f over T that depend on x, whatever T's own order; 2^n * n steps, cheap
  for n <= 8). Ties go to the order found first (lower slots first), so the result is deterministic.
* `build`: the reduced diagram for an order (identical subgraphs merged, redundant tests dropped; a
  constant LUT has no node, a LUT of one input one).
* `diagram`: both, cached per table.
* `branch_code`: the diagram as goto-style steps (one input test each) laid out so that most edges fall
  through to the next step; the template prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np

#: Edge targets that are constants, not nodes.
FALSE, TRUE = -1, -2


@dataclass(frozen=True)
class Diagram:
    n: int  # inputs of the LUT
    order: tuple[int, ...]  # input slots, the root's variable first
    nodes: tuple[tuple[int, int, int], ...]  # (input slot, 0-edge, 1-edge), depth-first from the root (node 0)
    root: int  # 0, or FALSE / TRUE for a constant LUT

    @property
    def size(self) -> int:
        return len(self.nodes)

    def evaluate(self, address: int) -> int:
        """The LUT's output at table address `address`, walking the diagram."""
        ref = self.root
        while ref >= 0:
            slot, lo, hi = self.nodes[ref]
            ref = hi if (address >> slot) & 1 else lo
        return int(ref == TRUE)

    def mean_path(self) -> float:
        """Tests on the path of an input drawn uniformly (each input 1 with probability 1/2); kept on the
        diagram once computed (the planner prices the cached diagram of one table many times)."""
        if "_mean_path" not in self.__dict__:
            object.__setattr__(self, "_mean_path", self._walk_mean_path())
        return self.__dict__["_mean_path"]

    def _walk_mean_path(self) -> float:
        reach = np.zeros(len(self.nodes))
        if self.root >= 0:
            reach[0] = 1.0
        # a node's probability is the sum of its parents' halves: by level, every parent before its child
        level = {slot: d for d, slot in enumerate(self.order)}
        for i in sorted(range(len(self.nodes)), key=lambda k: level[self.nodes[k][0]]):
            for child in self.nodes[i][1:]:
                if child >= 0:
                    reach[child] += reach[i] / 2
        return float(reach.sum())

    def max_path(self) -> int:
        memo: dict[int, int] = {}

        def longest(ref: int) -> int:
            if ref < 0:
                return 0
            if ref not in memo:
                _, lo, hi = self.nodes[ref]
                memo[ref] = 1 + max(longest(lo), longest(hi))
            return memo[ref]

        return longest(self.root)


def _as_bits(table) -> np.ndarray:
    bits = np.asarray(table, dtype=np.uint8).reshape(-1)
    n = int(bits.size).bit_length() - 1
    if bits.size != 1 << n or n > 12:
        raise ValueError(f"a LUT table has 2**n bits (n <= 12), not {bits.size}")
    if np.any(bits > 1):
        raise ValueError("a LUT table holds 0/1 values")
    return bits


@lru_cache(maxsize=16)
def _half_masks(n: int) -> tuple[int, ...]:
    """Per slot s, the 2^n-bit mask of the addresses whose bit s is 0."""
    return tuple(sum(((1 << (1 << s)) - 1) << start for start in range(0, 1 << n, 2 << s)) for s in range(n))


def _cofactor_sets(bits: np.ndarray, n: int) -> list:
    """For every set T of slots (a bitmask), the distinct cofactors of f over T (every assignment of T's
    slots), each as a 2^n-bit integer over the whole address space that no longer depends on T: the
    half where slot s is 0 (or 1) copied onto the other half. Integers, not arrays: a cofactor is two
    masks and a shift, where numpy would pay its call overhead on 64-bit rows."""
    low = _half_masks(n)
    f = int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")  # bit a: the output at a
    sets = [{f}]
    for t in range(1, 1 << n):
        s = t.bit_length() - 1  # T = the set without its highest slot, plus that slot
        shift, m0 = 1 << s, low[s]
        out = set()
        for g in sets[t ^ (1 << s)]:
            lo, hi = g & m0, (g >> shift) & m0
            out.add(lo | (lo << shift))
            out.add(hi | (hi << shift))
        sets.append(out)
    return sets


def best_order(table) -> tuple[int, ...]:
    """The variable order (root first) whose reduced diagram has the fewest nodes, exactly: the nodes
    testing slot x under the set T above it are T's distinct cofactors that depend on x."""
    bits = _as_bits(table)
    n = int(bits.size).bit_length() - 1
    sets, low = _cofactor_sets(bits, n), _half_masks(n)

    def level_nodes(t: int, x: int) -> int:
        shift, m0 = 1 << x, low[x]
        return sum(1 for g in sets[t] if g & m0 != (g >> shift) & m0)

    best: dict[int, tuple[int, tuple[int, ...]]] = {0: (0, ())}  # set of slots above (a bitmask): its best
    for size in range(n):
        nxt: dict[int, tuple[int, tuple[int, ...]]] = {}
        for above in combinations(range(n), size):
            t = sum(1 << a for a in above)
            cost, order = best[t]
            for x in range(n):
                if t >> x & 1:
                    continue
                key, total = t | 1 << x, cost + level_nodes(t, x)
                if key not in nxt or total < nxt[key][0]:
                    nxt[key] = (total, order + (x,))
        best = nxt
    return best[(1 << n) - 1][1]


def build(table, order) -> Diagram:
    """The reduced ordered diagram of `table` with the variables in `order` (root first)."""
    bits = _as_bits(table)
    n = int(bits.size).bit_length() - 1
    if sorted(order) != list(range(n)):
        raise ValueError(f"order {order} is not a permutation of the {n} input slots")
    # terminals in an address order where the root's variable is the most significant bit
    cube = bits.reshape((2,) * n).transpose([n - 1 - s for s in order]).reshape(-1)
    refs = [TRUE if b else FALSE for b in cube.tolist()]
    unique: dict[tuple[int, int, int], int] = {}
    raw: list[tuple[int, int, int]] = []
    for slot in reversed(order):
        pairs = zip(refs[0::2], refs[1::2])
        refs = []
        for lo, hi in pairs:
            if lo == hi:
                refs.append(lo)
                continue
            key = (slot, lo, hi)
            if key not in unique:
                unique[key] = len(raw)
                raw.append(key)
            refs.append(unique[key])
    return _renumber(n, tuple(order), raw, refs[0])


def _renumber(n: int, order: tuple[int, ...], raw, root: int) -> Diagram:
    """Nodes in depth-first order from the root, the 0-edge first (what `branch_code` lays out)."""
    if root < 0:
        return Diagram(n, order, (), root)
    new: dict[int, int] = {}
    stack = [root]
    while stack:
        ref = stack.pop()
        if ref < 0 or ref in new:
            continue
        new[ref] = len(new)
        _, lo, hi = raw[ref]
        stack.extend((hi, lo))  # the 0-edge is visited first
    fix = lambda r: r if r < 0 else new[r]  # noqa: E731
    nodes = [None] * len(new)
    for old, i in new.items():
        slot, lo, hi = raw[old]
        nodes[i] = (slot, fix(lo), fix(hi))
    return Diagram(n, order, tuple(nodes), 0)


@lru_cache(maxsize=65536)
def _diagram_cached(n: int, packed: bytes) -> Diagram:
    bits = np.unpackbits(np.frombuffer(packed, np.uint8), bitorder="little", count=1 << n)
    return build(bits, best_order(bits))


def diagram(table) -> Diagram:
    """The smallest reduced ordered diagram of a LUT table (cached per table: the planner asks often)."""
    bits = _as_bits(table)
    n = int(bits.size).bit_length() - 1
    return _diagram_cached(n, np.packbits(bits, bitorder="little").tobytes())


@dataclass(frozen=True)
class Step:
    """One node as code: `label:` (None: no jump reaches it) `if ([!]test(slot)) goto target;` then
    `goto other;` unless `other` is None (the next step, or the 1-block after the last step)."""

    label: str | None
    slot: int
    negate: bool
    target: str
    other: str | None


#: Labels of the two constants: the 1-block (the LUT's output bit is set) and the LUT's end.
ONE, END = "one", "end"


@dataclass(frozen=True)
class BranchCode:
    """A LUT as branch code: `steps`, then the 1-block (when `one`: the output bit is set; labelled when
    `one_label`), then the end (labelled when `end_label`). A constant-1 LUT is the 1-block alone, a
    constant-0 LUT nothing."""

    steps: tuple[Step, ...]
    one: bool
    one_label: bool
    end_label: bool


def branch_code(d: Diagram) -> BranchCode:
    """The layout of `d` as code: the steps in the diagram's node order, then the 1-block, then the end.
    An edge to the step (or block) right after a step falls through; when the 0-edge cannot, the test is
    negated if the 1-edge can."""
    if d.root < 0:
        return BranchCode((), d.root == TRUE, False, False)
    names = [f"n{i}" for i in range(d.size)]
    target = lambda ref: ONE if ref == TRUE else END if ref == FALSE else names[ref]  # noqa: E731
    raw = []
    for i, (slot, lo, hi) in enumerate(d.nodes):
        following = names[i + 1] if i + 1 < d.size else ONE
        t_lo, t_hi = target(lo), target(hi)
        if t_lo == following:
            raw.append((slot, False, t_hi, None))
        elif t_hi == following:
            raw.append((slot, True, t_lo, None))
        else:
            raw.append((slot, False, t_hi, t_lo))
    jumped = {t for _, _, a, b in raw for t in (a, b) if t is not None}
    steps = tuple(Step(names[i] if names[i] in jumped else None, slot, neg, a, b)
                  for i, (slot, neg, a, b) in enumerate(raw))
    return BranchCode(steps, True, ONE in jumped, END in jumped)
