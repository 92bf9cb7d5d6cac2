"""`dwn-mcu boards`: the boards the compiler knows, with their flash, RAM and clock."""

from ..compiler.boards import load_boards


def register(sub):
    p = sub.add_parser("boards", help="list the boards a model can be compiled for")
    p.add_argument("--boards-dir", help="extra folder of board TOML files (default: $DWN_MCU_BOARDS)")
    p.set_defaults(func=run)


def run(args):
    boards = load_boards(args.boards_dir)
    print(f"{'board':<16} {'flash':>9} {'RAM':>8} {'MHz':>5}  {'arch':<14} {'aliases':<34} name")
    for b in boards.values():
        aliases = ", ".join(a for a in b.aliases if a != b.key)
        print(f"{b.key:<16} {b.flash:>9} {b.ram:>8} {b.f_cpu / 1e6:>5g}  {b.arch:<14} {aliases:<34} {b.name}")
    return 0
