"""Host proof: compile a generated model library with the host's gcc, link it with the runner in
`host_tests/dwn_runner.c`, run feature vectors through it and compare with the NumPy reference.

Two builds: `strict` (`-std=c99 -O2 -Wall -Wextra -Werror -pedantic`) and `sanitize` (AddressSanitizer and
UndefinedBehaviorSanitizer, no recovery: any report aborts the run; `-g1` rather than `-g`, as full debug
information makes gcc's variable tracking crawl over the unrolled layout's long functions). `HostModel` is the emlearn-style
convenience: an object whose `predict`/`scores` run the compiled C.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, DWNError
from ..frozen import INPUT_TYPES, FrozenDWN
from ..resources import resource_dir

WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
BUILDS = {
    "strict": WARNINGS + ["-O2"],
    "sanitize": WARNINGS + ["-O1", "-g1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                            "-fno-sanitize-recover=all"],
}
# The model never allocates, so leak checking adds nothing, and LeakSanitizer fails outright in some
# containers (it needs ptrace-like access): it is off; address and UB checks stay on.
_SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"}


class HostBuildError(DWNError):
    """The host compiler rejected the generated C, or the runner failed (crash, sanitizer report)."""


def host_compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("gcc")


def runner_source() -> Path:
    return resource_dir("host_tests") / "dwn_runner.c"


def compile_runner(lib_src: Path, name: str, exe: Path, build: str = "strict", runner: Path | None = None) -> Path:
    """Compile `lib_src/<name>.c` with the runner (default: the DWN's; a model family may bring its own,
    taking the same DWN_NAME/DWN_PREFIX/DWN_HEADER macros) into `exe`; HostBuildError shows the compiler's
    output."""
    cc = host_compiler()
    if cc is None:
        raise HostBuildError("no host C compiler (gcc) found")
    cmd = [cc, *BUILDS[build], f"-I{lib_src}", f"-DDWN_NAME={name}", f"-DDWN_PREFIX={name.upper()}",
           f'-DDWN_HEADER="{name}.h"', str(runner or runner_source()), str(Path(lib_src) / f"{name}.c"), "-o",
           str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or proc.stderr.strip():
        raise HostBuildError(f"{build} build of {name}.c failed: {proc.stderr.strip()[:2000]}")
    return Path(exe)


def as_inputs(X, input_type: str = "float32") -> np.ndarray:
    """X as the model's inputs: float32 for a float model; int64 for an integer model, whose values must be
    integers of its type (DataError otherwise: the C would silently wrap them)."""
    limits = INPUT_TYPES[input_type]
    if limits is None:
        return np.asarray(X, dtype=np.float32)
    X = np.asarray(X)
    if X.dtype.kind not in "iu":
        if not np.all(np.isfinite(X)) or not np.array_equal(X, np.round(X)):
            raise DataError(f"a {input_type} model takes integer inputs")
    X = X.astype(np.int64)
    if X.size and (X.min() < limits[0] or X.max() > limits[1]):
        raise DataError(f"inputs outside the {input_type} range {limits[0]}..{limits[1]}")
    return X


def format_vectors(X, input_type: str = "float32") -> bytes:
    """One line per row, each feature as 8 hex digits back to back: the float32 bit pattern of a float
    model's feature, or the two's-complement int32 word of an integer model's feature."""
    X = np.ascontiguousarray(as_inputs(X, input_type))
    words = X.view(np.uint32) if input_type == "float32" else X.astype(np.int32).view(np.uint32)
    n, f = X.shape
    digits = np.frombuffer(words.astype(">u4").tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 8 * f)
    return np.concatenate([digits, np.full((n, 1), ord("\n"), np.uint8)], axis=1).tobytes()


def run_rows(exe: Path, X, sanitize: bool = False, input_type: str = "float32") -> subprocess.CompletedProcess:
    """Feed the rows of X (`format_vectors`) to a compiled runner; HostBuildError on a failure or any
    sanitizer report. Returns the finished process (its stdout: the runner's answers)."""
    env = {**os.environ, **(_SANITIZER_ENV if sanitize else {})}
    proc = subprocess.run([str(exe)], input=format_vectors(X, input_type), capture_output=True, env=env)
    if proc.returncode != 0 or proc.stderr.strip():
        raise HostBuildError(f"runner {exe.name} failed (exit {proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace').strip()[:2000]}")
    return proc


def run_runner(exe: Path, X, num_classes: int, sanitize: bool = False,
               input_type: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Run the compiled runner on X; returns (classes (N,), scores (N, C)) as int64."""
    X = as_inputs(X, input_type)
    proc = run_rows(exe, X, sanitize, input_type)
    out = np.array(proc.stdout.split(), dtype=np.int64).reshape(-1, num_classes + 1) if X.shape[0] else \
        np.zeros((0, num_classes + 1), np.int64)
    if out.shape[0] != X.shape[0]:
        raise HostBuildError(f"runner answered {out.shape[0]} of {X.shape[0]} vectors")
    return out[:, 0], out[:, 1:]


@dataclass
class Comparison:
    build: str
    vectors: int
    mismatches: int
    first: dict | None  # the first differing vector: index, features, both answers

    @property
    def ok(self) -> bool:
        return self.mismatches == 0


def compare(model: FrozenDWN, X, classes, scores, build: str = "") -> Comparison:
    """Compare C answers with the reference on every vector."""
    X = as_inputs(X, model.input_type)
    ref_scores = model.scores(X)
    ref_classes = np.argmax(ref_scores, axis=1)
    bad = np.flatnonzero((ref_classes != classes) | np.any(ref_scores != scores, axis=1))
    first = None
    if bad.size:
        i = int(bad[0])
        first = {"index": i, "features": X[i].tolist(), "reference": (int(ref_classes[i]), ref_scores[i].tolist()),
                 "c": (int(classes[i]), scores[i].tolist())}
    return Comparison(build, int(X.shape[0]), int(bad.size), first)


def prove(lib_src, name: str, model: FrozenDWN, X, builds=("strict", "sanitize")) -> list[Comparison]:
    """Build the library in `lib_src` with each build and compare it with the reference on X."""
    results = []
    with tempfile.TemporaryDirectory(prefix="dwn-host-") as tmp:
        for build in builds:
            exe = compile_runner(Path(lib_src), name, Path(tmp) / f"runner_{build}", build)
            classes, scores = run_runner(exe, X, model.num_classes, sanitize=build == "sanitize",
                                         input_type=model.input_type)
            results.append(compare(model, X, classes, scores, build))
    return results


class HostModel:
    """The generated C compiled for the host: `predict(X)` and `scores(X)` run it (emlearn style).

    >>> with compile_host(model, layout="table") as c:
    ...     assert (c.predict(X) == model.predict(X)).all()
    """

    def __init__(self, sources: dict[str, str], name: str, num_classes: int, build: str = "strict",
                 input_type: str = "float32"):
        self.name, self.num_classes, self.build, self.input_type = name, num_classes, build, input_type
        self._dir = Path(tempfile.mkdtemp(prefix="dwn-host-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        for fname, text in sources.items():
            (self._dir / fname).write_text(text)
        self.exe = compile_runner(self._dir, name, self._dir / "runner", build)

    def run(self, X) -> tuple[np.ndarray, np.ndarray]:
        return run_runner(self.exe, X, self.num_classes, sanitize=self.build == "sanitize",
                          input_type=self.input_type)

    def predict(self, X) -> np.ndarray:
        return self.run(X)[0]

    def scores(self, X) -> np.ndarray:
        return self.run(X)[1]

    def close(self) -> None:
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
