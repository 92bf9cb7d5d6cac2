"""Where the package's data folders are: inside the installed package, or at the top of a checkout."""

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`boards` or `firmware_templates`: `dwn_mcu/<name>` in a wheel, `<repo>/<name>` in a checkout."""
    for candidate in (_HERE / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"dwn-mcu is installed without its {name}/ folder")
