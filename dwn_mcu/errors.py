"""The SDK's error types: every failure a user can cause is one of these, and the CLI turns them into
one line on stderr and exit code 2."""


class DWNError(Exception):
    """Base class of every error the SDK raises on bad input."""


class DWNFormatError(DWNError):
    """A `.dwn` file (or an in-memory frozen model) is malformed, truncated or of an unknown version."""


class DataError(DWNError):
    """A dataset could not be read: missing file, bad CSV cell, unknown column or dataset name."""


class CheckpointError(DWNError):
    """A checkpoint from another library (a torch_dwn state dict, its thresholds) cannot be imported:
    unreadable, refused by `weights_only`, or breaking a convention the importer checks."""


class OutputError(DWNError):
    """An output location cannot be written: a missing permission, a file where a folder is wanted, a folder dwn-mcu did not write."""
