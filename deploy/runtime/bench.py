"""``lowbit bench ARTIFACT [ARTIFACT ...]``: latency only, here or on an Android phone.

Here (default): every artifact in its stock runtime at batch 1, all of them interleaved in one
measurement (:mod:`lowbit.deploy.runtime.latency`), p50/p90/p99, and each p50 as a ratio to the baseline
(the first artifact unless ``--baseline`` names one). The input is a fixed pseudo-random
example of the artifact's input shape (token ids below the vocabulary size, or values in
[0, 1)): latency of these models does not depend on the values.

``--adb``: push every ``.tflite`` and LiteRT's ``benchmark_model`` binary (``--benchmark-binary``,
built for the phone's ABI) to the device and run it there (``--num_threads``, ``--num_runs``,
``--warmup_runs``), parse its ``Inference timings in us: Init: …, First inference: …,
Warmup (avg): …, Inference (avg): …`` line (and, when printed, the run statistics and the memory
footprint) into the same report. ONNX artifacts are skipped there (``benchmark_model`` is
LiteRT's). Without ``adb`` or without a connected device: :class:`DeviceUnavailable`, which the
command reports with exit code 2.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lowbit.deploy.runtime import artifacts, latency, runtimes
from lowbit.pipeline.errors import LowbitError

DEVICE_DIR = "/data/local/tmp/lowbit"


class DeviceUnavailable(LowbitError):
    """No adb, no device, or no benchmark binary: the on-device benchmark cannot run."""


# --------------------------------------------------------------------------- here


def sample_input(runner, input_shape=None, *, vocab_size: int | None = None) -> np.ndarray:
    """A fixed pseudo-random batch-1 input for ``runner``; ``input_shape`` fills dynamic dims."""
    shape = list(runner.input_shape)
    shape[0] = shape[0] or 1
    if input_shape is not None:
        if len(input_shape) != len(shape) or any(s is not None and s != g for s, g in zip(shape[1:], input_shape[1:])):
            raise ValueError(f"--input-shape {tuple(input_shape)} does not fit the artifact's {tuple(runner.input_shape)}")
        shape = [shape[0]] + list(input_shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"the artifact's input {tuple(runner.input_shape)} has dynamic dimensions; "
                         "give --input-shape, e.g. 1,7,32,32,1")
    rng = np.random.default_rng(0)
    if runner.input_dtype.kind in "iu":
        return rng.integers(3, vocab_size or 1000, size=shape).astype(runner.input_dtype)
    return rng.random(shape).astype(runner.input_dtype)


def bench(paths, *, baseline: str | None = None, runs: int = 500, warmup: int = 30, threads: int = 1,
          input_shape=None, ops: bool = False, progress: bool = True) -> dict:
    """Interleaved latency of ``paths`` here; ``{"baseline", "threads", "artifacts": [...]}``.
    ``ops``: every ``.tflite`` row also gets ``"ops"``, where LiteRT runs each of its ops
    (:func:`lowbit.deploy.export.xnnpack.placements`), and ``"xnnpack"``, their summary."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no artifacts given")
    base = Path(baseline) if baseline else paths[0]
    if base not in paths:
        paths.append(base)
    calls, rows = {}, []
    for path in paths:
        artifact = artifacts.open_artifact(path)
        runner = runtimes.load(artifact, threads=threads)
        vocab = path.parent / "vocab.txt"
        vocab_size = sum(1 for _ in vocab.open(encoding="utf-8")) if vocab.is_file() else None
        x = sample_input(runner, input_shape, vocab_size=vocab_size)
        calls[str(path)] = lambda r=runner, x=x: r.run(x)
        rows.append({"path": str(path), "format": artifact.format, "scheme": artifact.scheme,
                     "size_bytes": len(artifact.content), "input_shape": list(x.shape)})
        if ops and artifact.format == "tflite":
            from lowbit.deploy.export import xnnpack

            found = xnnpack.placements(artifact.content)
            rows[-1].update(ops=[asdict(p) for p in found], xnnpack=xnnpack.summary(found))
    with tqdm(total=runs, desc="latency", disable=None if progress else True, leave=False) as bar:
        seconds = latency.interleaved(calls, runs=runs, warmup=warmup, progress=bar.update)
    base_p50 = latency.summary_ms(seconds[str(base)])["p50"]
    for row in rows:
        row["latency_ms"] = latency.summary_ms(seconds[row["path"]])
        row["latency_ratio"] = round(row["latency_ms"]["p50"] / base_p50, 4)
    return {"where": "here", "baseline": str(base), "threads": threads, "runs": runs, "warmup": warmup,
            "artifacts": rows}


# --------------------------------------------------------------------------- on a device

_TIMINGS = re.compile(r"Inference timings in us: Init: ([\d.e+]+), First inference: ([\d.e+]+), "
                      r"Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)")
_STATS = re.compile(r"count=(\d+) first=[\d.e+]+ curr=[\d.e+]+ min=([\d.e+]+) max=([\d.e+]+) "
                    r"avg=([\d.e+]+) std=([\d.e+]+)(?: p5=[\d.e+]+ median=([\d.e+]+) p95=([\d.e+]+))?")
_MEMORY = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) "
                     r"\(MB\): init=([\d.e+]+) overall=([\d.e+]+)")


def parse_benchmark_model(output: str) -> dict:
    """Timings (ms) from LiteRT ``benchmark_model``'s output; ``ValueError`` if it has none."""
    timings = _TIMINGS.search(output)
    if timings is None:
        tail = " | ".join(output.strip().splitlines()[-3:])[:300]
        raise ValueError(f"benchmark_model printed no 'Inference timings' line; it said: {tail}")
    init, first, warm, avg = (float(v) / 1e3 for v in timings.groups())
    result = {"init_ms": init, "first_ms": first, "warmup_avg_ms": warm, "avg_ms": avg}
    stats = _STATS.findall(output)
    if stats:  # the last statistics line is the measured runs (the first one is the warm-up)
        count, low, high, mean, std, median, p95 = stats[-1]
        result.update(count=int(count), min_ms=float(low) / 1e3, max_ms=float(high) / 1e3,
                      std_ms=float(std) / 1e3)
        if median:
            result.update(p50_ms=float(median) / 1e3, p95_ms=float(p95) / 1e3)
    memory = _MEMORY.search(output)
    if memory:
        result.update(memory_init_mb=float(memory.group(1)), memory_overall_mb=float(memory.group(2)))
    return result


def _adb(adb: str, args: list[str], deadline: float) -> subprocess.CompletedProcess:
    """One adb call, within what is left of the whole benchmark's time budget."""
    left = deadline - time.monotonic()
    try:
        if left <= 0:
            raise subprocess.TimeoutExpired(args, 0)
        return subprocess.run([adb, *args], capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        raise DeviceUnavailable(f"adb did not finish in time ('adb {' '.join(args)[:80]}'); raise --adb-timeout "
                                "or check the device") from None


def connected_devices(adb: str, *, deadline: float | None = None) -> list[str]:
    """Serials of the devices ``adb devices`` lists as ready."""
    if shutil.which(adb) is None and not Path(adb).is_file():
        raise DeviceUnavailable(f"adb not found ({adb}); install Android platform-tools "
                                "or pass --adb-path")
    done = _adb(adb, ["devices"], deadline if deadline is not None else time.monotonic() + 60)
    if done.returncode != 0:
        raise DeviceUnavailable(f"'{adb} devices' failed: {done.stderr.strip()[:200]}")
    serials = []
    for line in done.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "device":
            serials.append(parts[0])
    return serials


def bench_adb(paths, *, adb: str = "adb", serial: str | None = None, binary: str | None = None,
              baseline: str | None = None, threads: int = 1, runs: int = 50, warmup: int = 5,
              device_dir: str = DEVICE_DIR, timeout: float = 600) -> dict:
    """Run LiteRT's ``benchmark_model`` on a phone for every ``.tflite`` of ``paths``, within
    ``timeout`` seconds in all. Nothing of a file's name reaches the device's shell: files are
    pushed as ``<i>.tflite`` and every shell argument is quoted."""
    if timeout <= 0:
        raise ValueError(f"the adb timeout must be positive, got {timeout}")
    deadline = time.monotonic() + timeout
    paths = [Path(p) for p in paths]
    tflites = [p for p in paths if p.suffix.lower() == ".tflite"]
    skipped = [str(p) for p in paths if p not in tflites]
    if not tflites:
        raise ValueError("--adb benchmarks .tflite artifacts; none given")
    for path in tflites:  # a damaged file is refused here, not on the phone
        artifacts.open_artifact(path)
    serials = connected_devices(adb, deadline=deadline)
    if not serials:
        raise DeviceUnavailable("no Android device connected ('adb devices' lists none); connect one "
                                "with USB debugging enabled, or run lowbit bench without --adb")
    if serial is not None and serial not in serials:
        raise DeviceUnavailable(f"device {serial} is not connected (connected: {', '.join(serials)})")
    serial = serial or serials[0]

    def adb_run(*args):
        done = _adb(adb, ["-s", serial, *args], deadline)
        if done.returncode != 0:
            raise DeviceUnavailable(f"adb {' '.join(args)[:80]} failed: {(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

    def shell(*words):  # adb joins its arguments into one device shell command line: quote each
        return adb_run("shell", " ".join(shlex.quote(w) for w in words))

    shell("mkdir", "-p", device_dir)
    device_binary = f"{device_dir}/benchmark_model"
    if binary is not None:
        if not Path(binary).is_file():
            raise ValueError(f"--benchmark-binary {binary} does not exist")
        adb_run("push", str(binary), device_binary)
        shell("chmod", "755", device_binary)
    elif "present" not in adb_run("shell", f"test -x {shlex.quote(device_binary)} && echo present || echo absent"):
        raise DeviceUnavailable(f"no benchmark_model on the device at {device_binary}; pass "
                                "--benchmark-binary (LiteRT's benchmark_model built for the phone's ABI)")
    rows = []
    for i, path in enumerate(tflites):
        remote = f"{device_dir}/{i}.tflite"
        adb_run("push", str(path), remote)
        output = shell(device_binary, f"--graph={remote}", f"--num_threads={threads}",
                       f"--num_runs={runs}", f"--warmup_runs={warmup}")
        rows.append({"path": str(path), "format": "tflite", "size_bytes": path.stat().st_size,
                     **parse_benchmark_model(output)})
    base = Path(baseline) if baseline else tflites[0]
    base_rows = [r for r in rows if r["path"] == str(base)]
    if not base_rows:
        raise ValueError(f"--baseline {base} is not among the .tflite artifacts benchmarked")
    for row in rows:
        row["latency_ratio"] = round(row["avg_ms"] / base_rows[0]["avg_ms"], 4)
    return {"where": f"adb:{serial}", "baseline": str(base), "threads": threads, "runs": runs,
            "warmup": warmup, "artifacts": rows, "skipped": skipped}
