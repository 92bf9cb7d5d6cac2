"""Fast (factorised) versus direct-sum EFD backward, in one run: batch 256, 2000 LUTs, n = 6.

    MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \
        python bench/efd_speed.py [--batch 256] [--luts 2000] [--n 6] [--repeats 15] [--device cpu] [--threads N]

Times (median and minimum of `--repeats`, after 3 warm-ups) the input gradient alone (fast: the slot-gradient
table, then one weighted gather per sample; direct: the per-sample sum over all 2**n entries) and the whole LUT
function forward + backward (input and table gradients) with each. Checks that the two agree before timing.
Prints the speed-ups of medians and of minima (the minimum is the least disturbed by other load).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from dwn_mcu.training.efd import addresses, efd_input_grad, efd_input_grad_direct, lut_lookup


def timed(fn, repeats, device):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--luts", type=int, default=2000)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    entries = (torch.rand(args.luts, 1 << args.n, generator=gen) * 2 - 1).to(dev)
    x = (torch.rand(args.batch, args.luts, args.n, generator=gen) > 0.5).float().to(dev)
    g = torch.randn(args.batch, args.luts, generator=gen).to(dev)
    addr = addresses(x)
    diff = (efd_input_grad(entries, addr, g) - efd_input_grad_direct(entries, addr, g)).abs().max().item()

    def whole(direct):
        xr = x.clone().requires_grad_(True)
        er = entries.clone().requires_grad_(True)
        lut_lookup(xr, er, direct).backward(g)

    res = {
        "device": str(dev) if dev.type != "cpu" else f"cpu ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads)",
        "batch": args.batch, "luts": args.luts, "n": args.n, "max_abs_difference": diff,
    }
    cases = {
        "input_grad_fast": lambda: efd_input_grad(entries, addr, g),
        "input_grad_direct": lambda: efd_input_grad_direct(entries, addr, g),
        "layer_fast": lambda: whole(False),
        "layer_direct": lambda: whole(True),
    }
    for name, fn in cases.items():
        med, low = timed(fn, args.repeats, dev)
        res[f"{name}_ms"], res[f"{name}_min_ms"] = 1e3 * med, 1e3 * low
    print(f"device {res['device']}; batch {args.batch}, {args.luts} LUTs, n = {args.n}; "
          f"fast vs direct max |diff| {diff:.2e}; median (min) of {args.repeats}")
    for what, label in (("input_grad", "input gradient"), ("layer", "layer forward + backward")):
        fast, direct = res[f"{what}_fast_ms"], res[f"{what}_direct_ms"]
        fast_min, direct_min = res[f"{what}_fast_min_ms"], res[f"{what}_direct_min_ms"]
        res[f"{what}_speedup"], res[f"{what}_speedup_min"] = direct / fast, direct_min / fast_min
        print(f"{label:26s} fast {fast:8.2f} ({fast_min:.2f}) ms   direct {direct:8.2f} "
              f"({direct_min:.2f}) ms   x{direct / fast:.1f} (minima x{direct_min / fast_min:.1f})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
