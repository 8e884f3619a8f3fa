"""ARM: every scheme's ``.tflite`` and ``.onnx`` (IMDB LSTM and GRU, random weights: the graphs
and stored types of trained ones) run through aarch64 LiteRT 2.3 and ONNX Runtime 1.32 under
qemu-user (``scripts/arm-root``: a Debian arm64 root with the aarch64 wheels, cached) and give the
outputs they give on this x86 machine. The phone's code path (ARM NEON kernels, XNNPACK's ARM
micro-kernels) is otherwise never run here."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # measured: ONNX Runtime bit-identical, LiteRT within 1.25e-6

# Runs in both Pythons (aarch64 under qemu, and this one): every file in FOLDER on the ids in
# FOLDER/x.npy, one thread, outputs to OUT as .npy files named like the model files.
RUNNER = '''
import sys
from pathlib import Path
import numpy as np

folder, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(exist_ok=True)
x = np.load(folder / "x.npy")
for path in sorted(folder.glob("*.tflite")):
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    rows = []
    for row in x:
        interpreter.set_tensor(inp, row[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(outp)[0].copy())
    np.save(out / (path.name + ".npy"), np.array(rows))
for path in sorted(folder.glob("*.onnx")):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    np.save(out / (path.name + ".npy"), session.run(None, {name: x})[0])
'''


@pytest.fixture(scope="module")
def arm_python():
    """The aarch64 Python under qemu (``DIR/run-python``), its root built on first use."""
    if shutil.which("qemu-aarch64-static") is None:
        pytest.skip("qemu-aarch64-static not found: scripts/test installs Debian's qemu-user-static")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "arm-root")], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    return Path(done.stdout.strip().splitlines()[-1]) / "run-python"


@pytest.mark.slow  # qemu: seconds per file; the root is built once (minutes) and cached
def test_every_scheme_runs_on_aarch64_as_on_x86(arm_python, random_imdb_models, random_imdb_tflite, random_imdb_onnx,
                                                tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    np.save(files / "x.npy", random_imdb_models["x"][:8])
    for fmt, by_key in (("tflite", random_imdb_tflite), ("onnx", random_imdb_onnx)):
        for (arch, scheme), content in by_key.items():
            (files / f"{arch}-{scheme}.{fmt}").write_bytes(content)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    subprocess.run([sys.executable, str(runner), str(files), str(tmp_path / "x86")], check=True, timeout=600)
    done = subprocess.run([str(arm_python), str(runner), str(files), str(tmp_path / "arm")],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    differences = {}
    for expected in sorted((tmp_path / "x86").glob("*.npy")):
        arm = np.load(tmp_path / "arm" / expected.name)
        x86 = np.load(expected)
        assert arm.shape == x86.shape and np.isfinite(arm).all(), expected.name
        differences[expected.name[:-4]] = float(np.abs(arm - x86).max())
    print("max |aarch64 - x86| per file:", json.dumps(differences, indent=1))
    assert len(differences) == 16  # LSTM and GRU, fp/bc/tc/qc, .tflite and .onnx
    assert max(differences.values()) <= TOLERANCE, differences
