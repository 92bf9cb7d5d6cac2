"""`python -m dwn_mcu`: the command line. A Ctrl-C while it starts is one line and exit 130 like any other
(`dwn_mcu.cli.main` covers the heavy imports; this covers the import of the light `dwn_mcu.cli`)."""

import sys


def _entry() -> int:
    try:
        from .cli import entry
    except KeyboardInterrupt:
        print("dwn-mcu: interrupted", file=sys.stderr)
        return 130
    return entry()


sys.exit(_entry())
