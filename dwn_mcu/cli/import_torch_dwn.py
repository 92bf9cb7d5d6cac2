"""`dwn-mcu import-torch-dwn CHECKPOINT --thermometer THRESHOLDS -o model.dwn`: a torch_dwn model as a
`.dwn` file (formats: `dwn_mcu.torch_dwn_import`)."""

from ..outputs import check_output_file, make_parents


def register(sub):
    p = sub.add_parser(
        "import-torch-dwn",
        help="convert a torch_dwn state dict (LUTLayer..., GroupSum) and its thermometer to a .dwn file",
    )
    p.add_argument("checkpoint", help="torch.save'd state dict (or {'state_dict': ..., ...}) of the model")
    p.add_argument("--thermometer", metavar="THRESHOLDS", help="the thermometer's thresholds: .npy or .pt")
    p.add_argument("-o", "--output", required=True, help="the .dwn file to write")
    p.add_argument("--num-classes", type=int, help="GroupSum's k (it saves no tensors)")
    p.add_argument("--class-names", help="comma-separated class names (implies --num-classes)")
    p.add_argument("--feature-names", help="comma-separated feature names")
    p.add_argument("--num-features", type=int, help="needed only for thresholds shared by all features")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=run)


def run(args):
    from ..model_file import save
    from ..torch_dwn_import import import_torch_dwn

    out = check_output_file(args.output, args.force)
    split = lambda text: None if text is None else [s.strip() for s in text.split(",")]  # noqa: E731
    model = import_torch_dwn(
        args.checkpoint,
        args.thermometer,
        num_classes=args.num_classes,
        class_names=split(args.class_names),
        feature_names=split(args.feature_names),
        num_features=args.num_features,
    )
    save(model, make_parents(out))
    sizes = ", ".join(str(layer.num_luts) for layer in model.layers)
    print(f"wrote {out}: {model.num_features} features, {model.num_input_bits} bits, LUT layers {sizes}, "
          f"{model.num_classes} classes")
    return 0
