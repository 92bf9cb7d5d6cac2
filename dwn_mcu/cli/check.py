"""`dwn-mcu check --port PORT [--baud B] PROJECT`: the project's sketch on a real board, after
`pio run -t upload`: every prediction and score against the reference, and the board's own latency.
Exit 0 when all agree, 1 on a mismatch, 2 when no board answers in time or it runs something else."""

from ..compiler.project import load_project
from ..compiler.render import BAUD
from ..targets.serial_check import check_board


def register(sub):
    p = sub.add_parser("check", help="check the uploaded sketch on a real board over its serial port")
    p.add_argument("project", help="folder written by `dwn-mcu build` (its sketch uploaded to the board)")
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyUSB0 or COM3")
    p.add_argument("--baud", type=int, default=BAUD, help=f"baud rate (default: the sketch's, {BAUD})")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for the board to answer at first (default 5; it resets on connect)")
    p.set_defaults(func=run)


def run(args):
    project = load_project(args.project)
    result = check_board(project, args.port, args.baud, timeout=args.timeout)
    pct = 100 * result.agree / max(result.vectors, 1)
    print(f"board   {args.port}: {project.name} {result.identity}")
    print(f"agreement {result.agree}/{result.vectors} ({pct:.2f}%)")
    if result.micros:
        print(f"latency {result.latency_us:.1f} us mean, {min(result.micros)}..{max(result.micros)} us "
              f"(the board's micros(), {len(result.micros)} inferences)")
    if not result.ok:
        m = result.first_mismatch
        if m is None:
            print("FAIL: no vectors could be sent")
            return 1
        print(f"FAIL first mismatch at vector {m['index']}: expected {m['expected']}, board {m['got']!r}")
        return 1
    print("PASS")
    return 0
