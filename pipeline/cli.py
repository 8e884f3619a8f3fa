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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
