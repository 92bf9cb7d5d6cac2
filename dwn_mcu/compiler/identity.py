"""A model's identity: the first 16 hex digits of the SHA-256 of its `.dwn` bytes (the project's
`dwn/model.dwn`). The sketch prints it on request (`id`), so a host can tell which model a board runs."""

from __future__ import annotations

import hashlib

from ..frozen import FrozenDWN
from ..model_file import to_bytes

IDENTITY_HEX_DIGITS = 16


def identity_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:IDENTITY_HEX_DIGITS]


def model_identity(model: FrozenDWN) -> str:
    """The identity of `model` as `build_project` stores it (`to_bytes` is deterministic)."""
    return identity_of_bytes(to_bytes(model))
