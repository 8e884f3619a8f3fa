"""lowbit run: every stage end to end on a small real run, then a second run that skips every
stage, and a stage redone when its input changed."""

import json
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def lowbit_run(runs, app, shared_data, *extra):
    args = [sys.executable, "-m", "lowbit.cli", "run", "--runs", str(runs), "--android", str(app),
            "--data-dir", str(shared_data), "--limit", "300", "--float-epochs", "1", "--epochs", "1",
            "--eval-limit", "100", "--eval-runs", "10", *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("main")
    app = root / "app_project"
    (app / "app" / "src" / "main").mkdir(parents=True)
    done = lowbit_run(root / "runs", app, shared_data)
    return root, app, done


@pytest.fixture
def after_first_run(first_run, tmp_path):
    """The first run's state, restored after the test: no test sees what another one changed
    (the runs stay where they are, since a run records its starting run's path)."""
    root, app, done = first_run
    saved = tmp_path / "saved"
    for name in ("runs", "app_project"):
        shutil.copytree(root / name, saved / name)
    yield root, app, done
    for name in ("runs", "app_project"):
        shutil.rmtree(root / name)
        shutil.copytree(saved / name, root / name)


def test_all_stages_run_and_the_report_and_app_assets_exist(after_first_run):
    root, app, done = after_first_run
    assert done.returncode == 0, done.stderr[-3000:]
    runs = root / "runs"
    for scheme in ("fp", "bc", "tc", "qc"):
        run = runs / f"imdb-lstm-{scheme}"
        assert (run / "model.tflite").is_file() and (run / "model.onnx").is_file()
        config = json.loads((run / "config.json").read_text())
        assert config["init_from"] == (None if scheme == "fp" else str(runs / "imdb-lstm-fp"))
    report = json.loads((runs / "report" / "report.json").read_text())
    assert len(report["artifacts"]) == 8 and report["baseline"] == "fp"
    metadata = json.loads((app / "app" / "src" / "main" / "assets" / "model.json").read_text())
    assert metadata["scheme"] == "tc"
    assert "| tc | LiteRT |" in done.stdout and "--apk demo.apk" in done.stdout and "gradlew" not in done.stdout


def test_a_second_run_skips_every_stage(after_first_run, shared_data):
    root, app, _ = after_first_run
    report = root / "runs" / "report" / "report.json"
    before = report.stat().st_mtime_ns
    done = lowbit_run(root / "runs", app, shared_data)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("finished earlier, reused") == 4
    assert done.stderr.count("up to date") == 4 + 1  # four conversions, the report
    assert "already bundled" in done.stdout
    assert report.stat().st_mtime_ns == before


def test_changed_settings_redo_what_depends_on_them(after_first_run, shared_data):
    root, app, _ = after_first_run
    done = lowbit_run(root / "runs", app, shared_data, "--deploy-scheme", "qc", "--finetune-epochs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("finished earlier, reused") == 1  # fp; bc, tc, qc trained again
    assert done.stderr.count("holds a run with other settings, training it again") == 3
    metadata = json.loads((app / "app" / "src" / "main" / "assets" / "model.json").read_text())
    assert metadata["scheme"] == "qc"


def test_bad_options_fail_before_any_work(tmp_path, shared_data):
    done = lowbit_run(tmp_path / "runs", tmp_path / "not-an-app", shared_data)
    assert done.returncode == 2 and "not the lowbit Android demo" in done.stderr
    assert not (tmp_path / "runs").exists()
