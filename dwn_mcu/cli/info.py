"""`dwn-mcu info MODEL`: what a `.dwn` file holds."""

from ..model_file import load


def register(sub):
    p = sub.add_parser("info", help="describe a .dwn model file")
    p.add_argument("model", help="path to a .dwn file")
    p.set_defaults(func=run)


def describe(model) -> str:
    size = model.size_bits()
    lines = [
        f"features     {model.num_features} ({model.num_input_bits} thermometer bits)",
        f"classes      {model.num_classes}: {', '.join(model.class_names)}",
        f"layers       {len(model.layers)}",
    ]
    prev = model.num_input_bits
    for i, layer in enumerate(model.layers, start=1):
        ns = sorted(set(layer.n_inputs.tolist()))
        n_text = str(ns[0]) if len(ns) == 1 else f"{ns[0]}..{ns[-1]}"
        lines.append(f"  layer {i}    {layer.num_luts} LUTs, {n_text} inputs each, reading {prev} bits")
        prev = layer.num_luts
    lines += [
        f"group size   {model.group_size} LUTs per class",
        *([f"output       learnable reduction: last {model.reduction_layers} layer(s), "
           f"{model.score_bits} score bits per class"] if model.reduction_layers else []),
        f"table bits   {size['table_bits']}",
        f"mapping bits {size['mapping_bits']}",
        f"threshold bits {size['threshold_bits']}",
        f"total bits   {size['total_bits']} ({size['total_bits'] / 8192:.1f} KiB)",
    ]
    return "\n".join(lines)


def run(args):
    print(describe(load(args.model)))
    return 0
