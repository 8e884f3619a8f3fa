"""lowbit bench: interleaved latency here, and the on-device path: no adb or no device is a clear
exit 2; with a device (a stand-in adb script recording its calls) the benchmark_model output is
parsed into the report."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from lowbit.deploy.runtime import bench

# benchmark_model's summary as LiteRT prints it (tensorflow/lite/tools/benchmark)
BENCHMARK_OUTPUT = textwrap.dedent("""\
    INFO: STARTING!
    INFO: Graph: [/data/local/tmp/lowbit/0_model.tflite]
    INFO: Loaded model /data/local/tmp/lowbit/0_model.tflite
    INFO: The input model file size (MB): 0.778
    INFO: Initialized session in 3.512ms.
    INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
    INFO: count=412 first=2211 curr=1180 min=1102 max=2211 avg=1213.57 std=98 p5=1121 median=1190 p95=1390

    INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
    INFO: count=826 first=1201 curr=1187 min=1099 max=1950 avg=1208.9 std=61 p5=1118 median=1195 p95=1305

    INFO: Inference timings in us: Init: 3512, First inference: 2211, Warmup (avg): 1213.57, Inference (avg): 1208.9
    INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
    INFO: Memory footprint delta from the start of the tool (MB): init=4.13 overall=6.02
""")


def lowbit(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lowbit.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_parse_benchmark_model_output():
    parsed = bench.parse_benchmark_model(BENCHMARK_OUTPUT)
    assert parsed["avg_ms"] == pytest.approx(1.2089) and parsed["init_ms"] == pytest.approx(3.512)
    assert parsed["first_ms"] == pytest.approx(2.211) and parsed["warmup_avg_ms"] == pytest.approx(1.21357)
    assert parsed["count"] == 826 and parsed["p50_ms"] == pytest.approx(1.195)  # the measured runs, not warm-up
    assert parsed["memory_overall_mb"] == pytest.approx(6.02)
    with pytest.raises(ValueError, match="no 'Inference timings' line"):
        bench.parse_benchmark_model("ERROR: Could not open '/data/local/tmp/x.tflite'.")


def test_bench_here_interleaves_and_reports_ratios(converted_runs, tmp_path):
    out = tmp_path / "bench.json"
    done = lowbit("bench", str(converted_runs["tc"] / "model.tflite"), str(converted_runs["fp"] / "model.tflite"),
                  "--baseline", str(converted_runs["fp"] / "model.tflite"), "--runs", "40", "--json", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    rows = {r["scheme"]: r for r in result["artifacts"]}
    assert rows["fp"]["latency_ratio"] == 1.0
    assert rows["tc"]["latency_ratio"] == pytest.approx(
        rows["tc"]["latency_ms"]["p50"] / rows["fp"]["latency_ms"]["p50"], abs=1e-3)
    assert "x baseline" in done.stdout


def fake_adb(tmp_path, devices: str):
    """A stand-in for adb: logs every call, lists ``devices``, answers benchmark_model runs."""
    log = tmp_path / "adb.log"
    script = tmp_path / "adb"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env python3
        import sys
        args = sys.argv[1:]
        open({str(log)!r}, "a").write(" ".join(args) + "\\n")
        if args == ["devices"]:
            print("List of devices attached")
            print({devices!r}, end="")
        elif "benchmark_model" in " ".join(args) and "--graph" in " ".join(args):
            print({BENCHMARK_OUTPUT!r})
        elif "test -x" in " ".join(args):
            print("absent")
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def test_adb_absent_or_no_device_exits_2(converted_runs, tmp_path):
    model = str(converted_runs["tc"] / "model.tflite")
    done = lowbit("bench", model, "--adb", "--adb-path", str(tmp_path / "no-adb-here"))
    assert done.returncode == 2 and "adb not found" in done.stderr
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    fake_adb(tmp_path, devices="\n")
    done = lowbit("bench", model, "--adb", env=env)
    assert done.returncode == 2 and "no Android device connected" in done.stderr


def test_adb_with_a_device_pushes_runs_and_parses(converted_runs, tmp_path):
    script, log = fake_adb(tmp_path, devices="R58M123ABC\tdevice\n")
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF stand-in")
    models = [str(converted_runs["tc"] / "model.tflite"), str(converted_runs["fp"] / "model.tflite"),
              str(converted_runs["fp"] / "model.onnx")]
    result = bench.bench_adb(models, adb=str(script), binary=str(binary), runs=50, threads=2)
    assert result["where"] == "adb:R58M123ABC" and result["skipped"] == [models[2]]
    assert [r["avg_ms"] for r in result["artifacts"]] == [pytest.approx(1.2089)] * 2
    calls = log.read_text().splitlines()
    assert "-s R58M123ABC push " + str(binary) + " /data/local/tmp/lowbit/benchmark_model" in calls
    runs = [c for c in calls if "--graph=" in c]
    assert len(runs) == 2 and all("--num_threads=2" in c and "--num_runs=50" in c for c in runs)
    with pytest.raises(bench.DeviceUnavailable, match="no benchmark_model on the device"):
        bench.bench_adb(models[:1], adb=str(script))


def test_bench_ops_lists_where_litert_runs_every_op(converted_runs, tmp_path):
    out = tmp_path / "bench.json"
    done = lowbit("bench", str(converted_runs["tc"] / "model.tflite"), "--runs", "5", "--ops", "--json", str(out))
    assert done.returncode == 0, done.stderr
    row = json.loads(out.read_text())["artifacts"][0]
    loop_fcs = [p for p in row["ops"] if p["subgraph"] > 0 and p["op"] == "FULLY_CONNECTED"]
    assert len(loop_fcs) == 2 and all(p["xnnpack"] and p["weights"] == "INT2" for p in loop_fcs)
    assert row["xnnpack"]["slow_low_bit"] == [] and row["xnnpack"]["histogram"]["WHILE"] == [1, 0]
    assert "FULLY_CONNECTED [INT2 per-channel [512, 128]] -> XNNPACK" in done.stdout
    assert f"{row['xnnpack']['xnnpack']} of {row['xnnpack']['ops']} ops in XNNPACK" in done.stdout
