"""The ``lowbit`` command line. Subcommands import TensorFlow lazily, so ``--help`` is instant."""

from __future__ import annotations

import argparse
import json
import sys


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _cmd_qat_overhead(args) -> int:
    from pipeline import step_time

    rows = []
    for arch in args.arch:
        result = step_time.measure(
            arch, args.scheme, batch_size=args.batch_size, seq_len=args.seq_len, steps=args.steps
        )
        rows.append(result.as_dict())
        print(
            f"{arch}: float {result.float_median_s * 1e3:.1f} ms/step, {args.scheme} QAT "
            f"{result.qat_median_s * 1e3:.1f} ms/step, ratio {result.ratio:.3f}"
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def _cmd_train(args) -> int:
    from pipeline.downloads import DataUnavailableError
    from pipeline.training import TrainConfig, TrainingDiverged, train

    config = TrainConfig(
        task=args.task, scheme=args.scheme, out=args.out or f"runs/{args.task}-{args.scheme}",
        distribution=args.distribution, scale=args.scale, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
        limit=args.limit, seed=args.seed, data_dir=args.data_dir, strategy=args.strategy,
    )
    try:
        summary = train(config, resume=args.resume, force=args.force)
    except (ValueError, FileExistsError, DataUnavailableError, TrainingDiverged) as err:
        print(f"lowbit train: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, TrainingDiverged) else 2
    metric = next(k for k in summary if k.startswith("test_") and k != "test_loss")
    print(f"{config.out}: best epoch {summary['best_epoch']}, {metric} {summary[metric]:.4f}")
    return 0


def _cmd_reproduce(args) -> int:
    from pipeline.downloads import DataUnavailableError
    from pipeline.reproduce import reproduce
    from pipeline.training import TrainingDiverged

    try:
        results = reproduce(args.experiment, runs_dir=args.runs, docs_dir=args.docs,
                            data_dir=args.data_dir, epochs=args.epochs, limit=args.limit,
                            task=args.task, seed=args.seed)
    except (ValueError, FileExistsError, DataUnavailableError, TrainingDiverged) as err:
        print(f"lowbit reproduce: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, TrainingDiverged) else 2
    print(f"wrote {args.docs}/results/{args.experiment}.json, {args.docs}/results.md and "
          f"{len(results['figures'])} figures")
    return 0


def _cmd_convert(args) -> int:
    from deploy.convert import convert_run, parse_formats

    try:
        manifest = convert_run(args.run_dir, formats=parse_formats(args.to), batch_size=args.batch)
    except ValueError as err:
        print(f"lowbit convert: error: {err}", file=sys.stderr)
        return 2
    for name, artifact in manifest["artifacts"].items():
        print(f"{args.run_dir}/{name}: {artifact['size_bytes'] / 1e6:.3f} MB, "
              f"{artifact['bits_per_weight']:.2f} bits per quantized weight")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lowbit", description="Train, export and deploy 1- and 2-bit recurrent networks."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "qat-overhead",
        help="measure QAT training step time against float on the IMDB-sized LSTM/GRU",
    )
    p.add_argument("--arch", nargs="+", choices=["lstm", "gru"], default=["lstm", "gru"])
    p.add_argument("--scheme", choices=["bc", "tc", "qc"], default="tc")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--seq-len", type=_positive_int, default=80)
    p.add_argument("--steps", type=_positive_int, default=30)
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    p.set_defaults(run=_cmd_qat_overhead)

    from models import TASKS  # light: builders import TensorFlow only when called
    from pipeline.schemes import DISTRIBUTIONS, SCALES, SCHEMES

    p = sub.add_parser("train", help="train one task with one quantization scheme into a run directory")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--scheme", required=True, choices=SCHEMES)
    p.add_argument("--distribution", choices=DISTRIBUTIONS, default="normal")
    p.add_argument("--scale", choices=SCALES, default="tensor")
    p.add_argument("--epochs", type=_positive_int, default=20)
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=_positive_int, default=3,
                   help="stop after this many epochs without a better validation metric")
    p.add_argument("--limit", type=_positive_int, help="use only this many training and test examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="local data folder (default: $LOWBIT_DATA, else download)")
    p.add_argument("--out", help="run directory (default: runs/TASK-SCHEME)")
    p.add_argument("--strategy", choices=["default", "mirrored"], default="default",
                   help="'mirrored': tf.distribute.MirroredStrategy over all local devices")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    p.add_argument("--force", action="store_true", help="replace an existing run in --out")
    p.set_defaults(run=_cmd_train)

    from pipeline.reproduce import EXPERIMENTS

    p = sub.add_parser("reproduce", help="run one of the paper's experiments (every scheme), "
                       "write docs/results.md and the figures")
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("--runs", default="runs/reproduce", help="where the runs go (finished ones are reused)")
    p.add_argument("--docs", default="docs", help="where results.md and results/ go")
    p.add_argument("--data-dir", help="local data folder (default: $LOWBIT_DATA, else download)")
    p.add_argument("--epochs", type=_positive_int, help="override the experiment's epoch budget")
    p.add_argument("--limit", type=_positive_int, help="use only this many training and test examples")
    p.add_argument("--task", choices=TASKS, help="frames only: frames-convlstm for the paper's 64x64 canvas")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_cmd_reproduce)

    p = sub.add_parser("convert", help="export a run's model to .tflite / .onnx with packed low-bit weights")
    p.add_argument("run_dir", help="a run directory written by lowbit train")
    p.add_argument("--to", default="tflite,onnx", help="comma-separated formats: tflite, onnx")
    p.add_argument("--batch", type=_positive_int, default=1, help="fixed batch size of the .tflite")
    p.set_defaults(run=_cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
