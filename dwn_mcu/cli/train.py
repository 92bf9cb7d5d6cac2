"""`dwn-mcu train`: train a DWN on a CSV, an `.npz` or a named dataset, freeze it, write a `.dwn` file.

Torch is imported only when the command runs, so the rest of the CLI works without it.
"""

from __future__ import annotations

import argparse
import time
import numpy as np

from ..data import load_data
from ..default_shape import default_shape
from ..errors import DWNError
from ..frozen import INPUT_TYPES, MAX_LUT_INPUTS
from ..integer_inputs import dequantize, fit_quantization, quantize, to_integer_model
from ..model_file import save
from ..outputs import check_output_file, make_parents
from ..thermometer import ENCODINGS
from . import add_data_arguments


def _int_range(lo, hi=None):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{v} is outside {lo}..{hi if hi is not None else ''}")
        return v

    return parse


def _lut_counts(text):
    try:
        counts = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of LUT counts") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every layer needs at least 1 LUT")
    return counts


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def _float_list(positive):
    def parse(text):
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number or a comma-separated list") from None
        if not all(np.isfinite(values)) or (positive and min(values) <= 0):
            need = "finite and positive" if positive else "finite"
            raise argparse.ArgumentTypeError(f"{text!r}: every value must be {need}")
        return np.asarray(values)

    return parse


def register(sub):
    p = sub.add_parser("train", help="train a DWN and write a .dwn model file")
    add_data_arguments(p)
    p.add_argument("--luts", type=_lut_counts, default=None, metavar="L1,L2,...",
                   help="LUTs per layer (default: from the data, at least 200 and 32 per class; docs/training.md); "
                        "the last is rounded up to a multiple of the classes")
    p.add_argument("--lut-inputs", type=_int_range(1, MAX_LUT_INPUTS), default=None, metavar="N",
                   help="inputs per LUT (default 6)")
    p.add_argument("--bits", type=_int_range(1, 4096), default=None,
                   help="thresholds per feature (default 32, fewer for many features; docs/training.md)")
    p.add_argument("--encoding", choices=ENCODINGS, default="distributive", help="thermometer (default distributive)")
    p.add_argument("--mapping", choices=("learnable", "random"), default="learnable",
                   help="first layer's input mapping (default learnable)")
    p.add_argument("--epochs", type=_int_range(1), default=60,
                   help="epochs at most (default 60; with --board, more on a small training split: 1,000 steps)")
    p.add_argument("--batch-size", type=_int_range(1), default=128, help="minibatch size (default 128)")
    p.add_argument("--lr", type=_positive_float, default=1e-2, help="Adam learning rate (default 0.01)")
    p.add_argument("--tau", type=_positive_float, default=None, help="GroupSum temperature (default sqrt(group)/2)")
    p.add_argument("--patience", type=_int_range(1), default=20, help="early-stopping patience in epochs (default 20)")
    p.add_argument("--spectral", type=float, default=0.0, metavar="LAMBDA",
                   help="weight of the order-weighted Walsh-Hadamard penalty on the LUTs (default 0: off)")
    p.add_argument("--reduction", type=_lut_counts, default=None, metavar="L1,...,LR",
                   help="learnable reduction instead of the popcount: per-class LUTs of each reduction layer, "
                        "the last (at most 16) being the score bits (docs/learnable-reduction.md)")
    p.add_argument("--threshold-grid", choices=("float16",), default=None,
                   help="keep thresholds on float16-representable values (16-bit storage, exact comparison)")
    p.add_argument("--seed", type=_int_range(0), default=0, help="random seed (default 0)")
    p.add_argument("--threads", type=_int_range(0), default=1,
                   help="torch CPU threads (default 1, fastest for small models; 0: torch's default)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    ints = p.add_argument_group("integer inputs (the model takes the integers a sensor delivers; "
                                "feature = integer * scale + offset)")
    ints.add_argument("--input-type", choices=[t for t, r in INPUT_TYPES.items() if r is not None],
                      help="train on quantized features and write an integer-input model")
    ints.add_argument("--input-scale", type=_float_list(True), metavar="S[,S...]",
                      help="one scale or one per feature (default: fitted with --input-offset on the training "
                           "rows' range; 1 when only --input-offset is given)")
    ints.add_argument("--input-offset", type=_float_list(False), metavar="O[,O...]",
                      help="one offset or one per feature (default: fitted; 0 when only --input-scale is given)")
    fit = p.add_argument_group("fit to a board (searches LUT inputs, LUTs, layers and bits; dwn_mcu.budget_search)")
    fit.add_argument("--board", help="keep the most accurate shape that fits this board (--luts etc. ignored)")
    fit.add_argument("--flash-budget", type=_int_range(1), metavar="BYTES", help="the model's flash share")
    fit.add_argument("--ram-budget", type=_int_range(1), metavar="BYTES", help="the model's RAM share")
    fit.add_argument("--latency-budget", metavar="CYCLES|USus",
                     help="priced latency per inference at most: cycles (2000; instructions on the QEMU-measured "
                          "targets) or microseconds at the board's clock (150us)")
    fit.add_argument("--trials", type=_int_range(1), default=24, help="shapes trained at most (default 24)")
    fit.add_argument("--time-limit", type=_positive_float, default=300.0, metavar="S",
                     help="seconds of search (default 300)")
    fit.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: the in-process shape search (default); ray: the search engine of `dwn-mcu "
                          "search` (Optuna's sampler, trials on Ray; docs/search.md)")
    fit.add_argument("--address", metavar="HOST:PORT", help="with --engine ray: join this Ray cluster")
    fit.add_argument("--search-dir", metavar="DIR", help="with --engine ray: keep the search folder here")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.dwn", help="where to write the model")
    p.set_defaults(func=run)


def _check_args(args) -> None:
    """The combinations of options that cannot run, refused before any data is read."""
    if args.spectral < 0:
        raise DWNError(f"--spectral {args.spectral}: the penalty's weight cannot be negative")
    if (args.flash_budget or args.ram_budget or args.latency_budget) and not args.board:
        raise DWNError("--flash-budget, --ram-budget and --latency-budget need --board (the board whose rules "
                       "price the model)")
    if (args.input_scale is not None or args.input_offset is not None) and not args.input_type:
        raise DWNError("--input-scale and --input-offset need --input-type")
    if args.board and args.reduction:
        raise DWNError("--reduction cannot be combined with --board yet: the shape search prices popcount models")
    if (args.address or args.search_dir) and args.engine != "ray":
        raise DWNError("--address and --search-dir need --board and --engine ray")
    if args.board and args.input_type:
        raise DWNError("--input-type cannot be combined with --board yet: train, then build the integer model")


def run(args):
    out = check_output_file(args.output, args.force)  # before training: a run must not end in a failed write
    data = load_data(args.data, args.target, args.dataset)
    _check_args(args)
    from ..training import distributed  # imports torch (a DWNError says so if it is missing)

    if args.board and distributed.launched():
        raise DWNError("--board cannot run under torchrun: the shape search trains each shape in one process")
    if args.board and args.engine == "ray":
        from ..search.fit import fit_to_board as fit_on_engine

        return fit_on_engine(data, args, out)
    if args.board:
        from ..budget_search import fit_to_board

        return fit_to_board(data, args, out)
    from ..training.classifier import resolve_device

    try:  # under torchrun: join the other processes (training/distributed.py); only rank 0 reports and writes
        distributed.start_from_env(resolve_device(args.device))
    except ValueError as exc:
        raise DWNError(str(exc)) from None
    X_tr, y_tr = data.train_split()
    X_te, y_te = data.test_split()
    quantization = None
    if args.input_type:
        # train on the values the integers stand for, so that the integer model is the trained one exactly
        scale, offset = _quantization(args, X_tr)
        X_tr = dequantize(quantize(X_tr, args.input_type, scale, offset), scale, offset)
        K_te = quantize(X_te, args.input_type, scale, offset)
        X_te = dequantize(K_te, scale, offset)
        quantization = (scale, offset, K_te)
    shape = _shape(args, data, X_tr)
    clf, seconds = _fit(args, shape, data, X_tr, y_tr)
    if not distributed.is_main():
        return 0
    model = clf.freeze()
    if quantization:
        scale, offset, K_te = quantization
        model = to_integer_model(model, args.input_type, scale, offset)
        reference = model.predict(K_te)  # the integer model on the quantized test rows
    else:
        reference = model.predict(X_te)
    agree = int(np.sum(reference == clf.predict(X_te)))  # the frozen (integer) model must be the trained one
    test_acc = float(np.mean(reference == y_te)) if y_te.size else float("nan")
    model.metadata.update(dataset=data.name, test_accuracy=test_acc)  # no timings: same run, same bytes
    save(model, make_parents(out))
    _print_summary(args, shape, data, clf, model, seconds, test_acc, agree, X_tr.shape[0], X_te.shape[0], out)
    return 0 if agree == X_te.shape[0] else 1


def _shape(args, data, X_tr):
    """The options' shape; what they leave out sized from the training rows (dwn_mcu/default_shape.py)."""
    try:
        return default_shape(X_tr.shape[0], X_tr.shape[1], data.num_classes, args.luts, args.lut_inputs, args.bits)
    except ValueError as exc:
        raise DWNError(str(exc)) from None


def _fit(args, shape, data, X_tr, y_tr):
    """The classifier the options describe, fitted; with the seconds it took (printed, never stored)."""
    from ..training.classifier import DWNClassifier

    clf = DWNClassifier(
        luts=shape.luts, lut_inputs=shape.lut_inputs, bits=shape.bits, encoding=args.encoding, mapping=args.mapping,
        tau=args.tau, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
        seed=args.seed, device=args.device, num_threads=args.threads or None, verbose=not args.quiet,
        spectral=args.spectral, threshold_grid=args.threshold_grid, reduction=args.reduction,
    )
    start = time.perf_counter()
    try:
        clf.fit(X_tr, y_tr, feature_names=data.feature_names, class_names=data.class_names)
    except ValueError as exc:
        raise DWNError(str(exc)) from None
    return clf, time.perf_counter() - start


def _print_summary(args, shape, data, clf, model, seconds, test_acc, agree, train_rows, test_rows, out) -> None:
    size = model.size_bits()
    if shape.reasons:
        print(f"note: shape from the data: {'; '.join(shape.reasons)} (--luts, --bits, --lut-inputs override)")
    if tuple(clf.luts_) != tuple(shape.luts):
        print(f"note: last layer rounded up to {clf.luts_[-1]} LUTs ({model.num_classes} classes)")
    print(f"dataset        {data.name}: {train_rows} training rows, {test_rows} test rows, "
          f"{model.num_features} features, {model.num_classes} classes")
    print(f"model          {' -> '.join(map(str, clf.luts_))} LUTs of {shape.lut_inputs} inputs, "
          f"{model.num_input_bits} thermometer bits; {len(clf.history_)} epochs in {seconds:.1f} s")
    if args.input_type:
        print(f"inputs         {args.input_type}, feature = k * scale + offset; scale "
              f"{np.array2string(model.input_scale, precision=4, separator=',')}, offset "
              f"{np.array2string(model.input_offset, precision=4, separator=',')}")
    print(f"test accuracy  {test_acc:.4f} (NumPy reference on the "
          f"{'quantized ' if args.input_type else ''}test split)")
    print(f"model size     {size['total_bits']} bits ({size['total_bits'] / 8192:.1f} KiB): "
          f"{size['table_bits']} table, {size['mapping_bits']} mapping, {size['threshold_bits']} threshold")
    print(f"reference      NumPy == torch on {agree}/{test_rows} test rows")
    print(f"wrote          {out}")


def _quantization(args, X_tr):
    """Scale and offset per feature: as given (one value for all or one per feature), else fitted."""
    F = X_tr.shape[1]
    if args.input_scale is None and args.input_offset is None:
        return fit_quantization(X_tr, args.input_type)
    out = []
    for option, values, default in (("--input-scale", args.input_scale, 1.0),
                                    ("--input-offset", args.input_offset, 0.0)):
        values = np.array([default]) if values is None else values
        if values.size not in (1, F):
            raise DWNError(f"{option}: {values.size} values for {F} features (give 1 or {F})")
        out.append(np.broadcast_to(values, (F,)).astype(np.float64))
    return tuple(out)
