"""What torchrun's variables say about this process, read without importing torch.

`torchrun --nproc-per-node N` starts N processes with `RANK`, `WORLD_SIZE` and `LOCAL_RANK` set. The CLI's
error boundary needs to know whether it is rank 0 (the rank that reports) before torch is imported, or
even when torch is not installed; `dwn_mcu.training.distributed` joins the process group from the same
variables.
"""

from __future__ import annotations

import os


def launched(environ=None) -> bool:
    """Whether torchrun (or the same variables) describes more than one process."""
    env = os.environ if environ is None else environ
    try:
        return all(k in env for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")) and int(env["WORLD_SIZE"]) > 1
    except ValueError:  # not torchrun's: a WORLD_SIZE that is not a number describes no process group
        return False


def reports(environ=None) -> bool:
    """Whether this process prints what the run says: a single process, or rank 0 of a torchrun launch.
    Every rank reads the same arguments and data, so a bad input fails each the same way; rank 0's line
    is the one shown."""
    env = os.environ if environ is None else environ
    return not launched(env) or env["RANK"].strip() == "0"
