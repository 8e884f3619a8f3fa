"""Fuzzing ``lowbit predict`` with damaged artifacts, crash-safe.

``damage(blob, rng)`` makes one seeded damaged copy of an artifact: truncation, flipped bits,
zeroed or random runs, inserted or deleted bytes, overwritten header fields. ``run_all`` feeds
many of them to ``lowbit predict`` (``lowbit.cli.main``) inside child processes: a child
works through the cases and reports each outcome as one line before it starts the next, so
when a child dies by a signal the case it was on is counted as a crash and a new child carries
on after it. Outcomes:

* ``ok`` — predict exited 0 with one JSON line (the damage hit weights only);
* ``refused`` — exit 2 with a one-line error on stderr naming the file;
* ``error`` — any other exit code or a multi-line stderr (a traceback wall);
* ``crash`` — the process was killed by a signal (e.g. SIGSEGV in a runtime).

Run by ``tests/test_fuzz.py``; also usable by hand: ``python tests/fuzz_predict.py MODEL N``.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

MUTATIONS = ("truncate", "flip_bits", "zero_run", "random_run", "insert", "delete", "header", "splice")


def damage(blob: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One damaged copy of ``blob`` and the name of the mutation."""
    data = bytearray(blob)
    kind = MUTATIONS[rng.integers(len(MUTATIONS))]
    n = len(data)
    at = int(rng.integers(n))
    if kind == "truncate":
        data = data[:at]
    elif kind == "flip_bits":
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(n))
            data[i] ^= 1 << int(rng.integers(8))
    elif kind == "zero_run":
        end = min(n, at + int(rng.integers(1, 64)))
        data[at:end] = bytes(end - at)
    elif kind == "random_run":
        length = int(rng.integers(1, 64))
        data[at:at + length] = rng.integers(0, 256, len(data[at:at + length]), dtype=np.uint8).tobytes()
    elif kind == "insert":
        data[at:at] = rng.integers(0, 256, int(rng.integers(1, 32)), dtype=np.uint8).tobytes()
    elif kind == "delete":
        del data[at:at + int(rng.integers(1, 32))]
    elif kind == "header":  # offsets, vtables and counts live near the start and the end
        region = int(rng.integers(min(n, 256)))
        i = region if rng.random() < 0.5 else n - 1 - region
        data[i] = int(rng.integers(256))
    else:  # splice: a piece of the file copied over another place
        length = int(rng.integers(4, 128))
        source = int(rng.integers(max(1, n - length)))
        data[at:at + length] = blob[source:source + length][: len(data[at:at + length])]
    return kind, bytes(data)


def _child(cases: list[str]) -> None:
    """Runs predict on each case in this process, one outcome line per case, flushed."""
    from lowbit import cli

    for path in cases:
        print(f"start {path}", flush=True)
        err, out = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                code = cli.main(["predict", path, "a fine film, well acted"])
        except SystemExit as exit_:
            code = exit_.code
        except BaseException as e:  # noqa: BLE001 - the fuzzer's point is to catch anything
            code, err = -1, io.StringIO(f"{type(e).__name__}: {e}\n" + "x\n" * 5)
        lines = [line for line in err.getvalue().splitlines()
                 if line.strip() and not line.startswith(("INFO: Created TensorFlow Lite XNNPACK delegate", "WARNING: All log",
                                                          "I0000", "W0000"))]
        if code == 0 and len(out.getvalue().splitlines()) == 1:
            outcome = "ok"
        elif code == 2 and len(lines) == 1 and Path(path).name in lines[0]:
            outcome = "refused"
        else:
            outcome = "error " + json.dumps(lines[-3:])
        print(f"done {path} {outcome}", flush=True)


def run_all(paths: list[Path], *, timeout: float = 600) -> dict[str, str]:
    """``{path: outcome}`` for every case (module docstring)."""
    pending = [str(p) for p in paths]
    outcomes: dict[str, str] = {}
    while pending:
        child = subprocess.run([sys.executable, __file__, "--child", *pending], capture_output=True, text=True,
                               timeout=timeout)
        current = None
        for line in child.stdout.splitlines():
            if line.startswith("start "):
                current = line[6:]
            elif line.startswith("done "):
                path, outcome = line[5:].split(" ", 1)
                outcomes[path] = outcome
                current = None
        if child.returncode < 0 and current is not None:
            outcomes[current] = f"crash {signal.Signals(-child.returncode).name}"
        elif child.returncode != 0 and current is not None:
            outcomes[current] = f"error exit {child.returncode}: {child.stderr.strip().splitlines()[-1:]}"
        pending = [p for p in pending if p not in outcomes]
        if child.returncode == 0 and pending:
            raise RuntimeError(f"fuzz child finished without reporting {len(pending)} cases")
    return outcomes


def make_cases(model: Path, out_dir: Path, n: int, *, seed: int = 0) -> list[Path]:
    """``n`` damaged copies of ``model``, each in its own folder with the vocabulary beside it
    and no manifest (so the structural checks, not the sha256, have to catch the damage)."""
    rng = np.random.default_rng(seed)
    blob = model.read_bytes()
    paths = []
    for i in range(n):
        kind, damaged = damage(blob, rng)
        folder = out_dir / f"{i:04d}-{kind}"
        folder.mkdir(parents=True)
        shutil.copy(model.parent / "vocab.txt", folder / "vocab.txt")
        path = folder / model.name
        path.write_bytes(damaged)
        paths.append(path)
    return paths


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        import collections
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            cases = make_cases(Path(sys.argv[1]), Path(scratch), int(sys.argv[2]), seed=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
            results = run_all(cases)
            print(collections.Counter(o.split(" ")[0] for o in results.values()))
            for path, outcome in sorted(results.items()):
                if not outcome.startswith(("ok", "refused")):
                    print(Path(path).parent.name, outcome)
