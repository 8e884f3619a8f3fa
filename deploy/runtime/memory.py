"""Peak resident memory of a process that loads one artifact and runs it, and nothing else.

:func:`measure` starts ``python -m lowbit.deploy.runtime.memory ARTIFACT INPUT.npy`` in a fresh process, which
imports only numpy and the artifact's runtime, reads the kernel's high-water mark of resident
memory (``VmHWM`` in ``/proc/self/status``), then loads the artifact, runs the input ``runs``
times and reads the mark again. It reports both marks in MB (10^6 bytes):

* ``peak_rss_mb`` — the whole inference process at its peak (interpreter, runtime, model);
* ``model_rss_mb`` — the growth of that peak from reading, checking, loading and running the
  model (the file's bytes included), i.e. what the model costs on top of the runtime.

Linux only (``/proc``); elsewhere :func:`measure` raises ``RuntimeError``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def high_water_mark_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("/proc/self/status has no VmHWM line")


def measure(artifact_path, sample: np.ndarray, *, threads: int = 1, runs: int = 20) -> dict:
    """``{"peak_rss_mb", "model_rss_mb", "before_load_mb"}`` of a fresh inference process."""
    if not Path("/proc/self/status").is_file():
        raise RuntimeError("peak memory is measured through /proc; not available on this system")
    with tempfile.TemporaryDirectory() as scratch:
        sample_path = Path(scratch) / "input.npy"
        np.save(sample_path, np.ascontiguousarray(sample), allow_pickle=False)
        done = subprocess.run(
            [sys.executable, "-m", "lowbit.deploy.runtime.memory", str(artifact_path), str(sample_path),
             "--threads", str(threads), "--runs", str(runs)],
            capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"memory probe of {artifact_path} failed (exit {done.returncode}): {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lowbit.deploy.runtime.memory")
    parser.add_argument("artifact")
    parser.add_argument("input", help=".npy file with one input batch")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)

    from lowbit.deploy.runtime import artifacts, runtimes

    if Path(args.artifact).suffix.lower() == ".tflite":
        import ai_edge_litert.interpreter  # noqa: F401  (the runtime counts before the model)
    else:
        import onnxruntime  # noqa: F401
    x = np.load(args.input, allow_pickle=False)
    before = high_water_mark_mb()
    artifact = artifacts.open_artifact(args.artifact)
    runner = runtimes.load(artifact, threads=args.threads)
    del artifact  # what stays alive is what the runtime itself keeps
    for _ in range(args.runs):
        runner.run(x)
    peak = high_water_mark_mb()
    print(json.dumps({"before_load_mb": round(before, 3), "peak_rss_mb": round(peak, 3),
                      "model_rss_mb": round(peak - before, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
