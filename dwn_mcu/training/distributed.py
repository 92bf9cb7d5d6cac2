"""Data-parallel training: torch's DistributedDataParallel across the processes `torchrun` starts.

`torchrun --nproc-per-node N -m dwn_mcu train ...` starts N processes with `RANK`, `WORLD_SIZE`,
`LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT` set. `start_from_env` joins them into one process group
(NCCL when the training device is CUDA, gloo otherwise); `DWNClassifier.fit` then trains data-parallel
whenever a process group of more than one process is initialised (`Group.current`), from the CLI or from
a user's own script.

Every process loads the same data, fits the same thermometer and draws the same seeded permutation per
epoch, so the global batches are those of one process with the same `batch_size`. Rank `r` of `W` takes
rows `r, r + W, ...` of each global batch (like torch's DistributedSampler, per batch). Its loss is its
rows' summed cross-entropy times `W / global batch rows`, so that DDP's average of the ranks' gradients is
the gradient of the global batch's mean loss even when the batch does not split evenly. Epoch totals and
validation counts are summed over ranks (integers, exactly), so every rank sees the same validation
accuracy and takes the same early-stopping decision.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import os
import zlib

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from ..launch import launched  # torchrun's variables, read without torch (the CLI reads them too)

TIMEOUT = datetime.timedelta(minutes=10)  # a collective that waits longer than this fails, never hangs


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


def local_device(device: torch.device, environ=None) -> torch.device:
    """Under torchrun, an index-less CUDA device becomes this process's GPU, `cuda:LOCAL_RANK`."""
    env = os.environ if environ is None else environ
    if device.type == "cuda" and device.index is None and launched(env):
        return torch.device("cuda", int(env["LOCAL_RANK"]))
    return device


def start_from_env(device: torch.device, timeout: datetime.timedelta = TIMEOUT) -> bool:
    """Join the process group that torchrun's variables describe, for training on `device`; False (and
    nothing done) when not launched so. The group is destroyed when the process exits."""
    if not launched():
        return False
    if not dist.is_initialized():
        device = local_device(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend_for(device), init_method="env://", timeout=timeout)
        atexit.register(_finish)
    return True


def _finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def fingerprint(X_train, y_train, X_val, params: dict) -> dict:
    """CRC-32 checksums of what data-parallel ranks must share: training rows, validation rows, parameters."""
    def crc(*arrays) -> int:
        value = 0
        for a in arrays:
            value = zlib.crc32(b"" if a is None else np.ascontiguousarray(a).tobytes(), value)
        return value

    return {"training rows": crc(X_train, y_train), "validation rows": crc(X_val),
            "parameters": zlib.crc32(repr(sorted((k, repr(v)) for k, v in params.items())).encode())}


def is_main() -> bool:
    """True in a single process and on rank 0: the process that reports and writes."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


@dataclasses.dataclass(frozen=True)
class Group:
    """This process's place among the data-parallel ranks."""

    rank: int
    world: int

    @staticmethod
    def current() -> "Group | None":
        """The initialised process group, or None when there is none or it has one process."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return None
        return Group(dist.get_rank(), dist.get_world_size())

    def shard(self, rows):
        """This rank's share of a global batch (a tensor or array of row indices, or rows)."""
        return rows[self.rank :: self.world]

    def loss(self, scores: torch.Tensor, labels: torch.Tensor, global_rows: int) -> torch.Tensor:
        """This rank's loss, whose gradient averaged over the ranks is that of the global mean loss."""
        return F.cross_entropy(scores, labels, reduction="sum") * (self.world / global_rows)

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """`model` in DistributedDataParallel (which starts every rank from rank 0's weights; seeded, they
        are equal anyway)."""
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def require_same(self, device: torch.device, **values: int) -> None:
        """ValueError on every rank unless all ranks pass the same integers (say, the training rows'
        count and checksum): ranks fed different data would otherwise train apart without a word. Every
        rank reaches the same verdict, so none is left waiting in a collective."""
        mine = torch.tensor(list(values.values()), dtype=torch.int64, device=device)
        low, high = mine.clone(), mine.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        differ = [name for name, lo, hi in zip(values, low.tolist(), high.tolist()) if lo != hi]
        if differ:
            raise ValueError(f"the {self.world} data-parallel processes disagree on {', '.join(differ)}: "
                             "every process must fit the same data with the same parameters")

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """`value` summed over the ranks (a new tensor, the same on every rank)."""
        total = value.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total
