"""Packaging: lowbit installs one import name, and a user's own models/, pipeline/ and deploy/
folders neither shadow it nor are shadowed by it."""

import configparser
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for prefix, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((prefix, *parts)))
    data = set(PYPROJECT["tool"]["setuptools"]["package-data"])  # the app's sources: files, no code
    assert data == {"lowbit.android_demo"} and not (ROOT / "android_demo" / "__init__.py").exists()
    assert found == listed - data


def test_console_script_is_lowbit_cli():
    assert PYPROJECT["project"]["scripts"] == {"lowbit": "lowbit.cli:main"}


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """lowbit's wheel, built from this checkout and installed alone into a fresh environment (its
    dependencies come from this one's site-packages): ``{"wheel", "env", "site"}``."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("lowbit-*.whl")
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next(env.glob("lib/python*/site-packages"))
    deps = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "tensorflow").is_dir())
    (site / "deps.pth").write_text(deps + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    return {"wheel": wheel, "env": env, "site": site}


@pytest.mark.slow
def test_wheel_installs_only_lowbit_and_a_users_own_packages_win(installed_wheel, tmp_path):
    wheel, env, site = installed_wheel["wheel"], installed_wheel["env"], installed_wheel["site"]
    with zipfile.ZipFile(wheel) as z:
        top = {name.split("/")[0] for name in z.namelist() if not name.split("/")[0].endswith(".dist-info")}
        entry_points = configparser.ConfigParser()
        entry_points.read_string(z.read(next(n for n in z.namelist() if n.endswith("entry_points.txt"))).decode())
    assert top == {"lowbit"}
    assert entry_points["console_scripts"]["lowbit"] == "lowbit.cli:main"

    user = tmp_path / "user_project"
    for name in ("models", "pipeline", "deploy"):
        (user / name).mkdir(parents=True)
        (user / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    probe = (
        "import models, pipeline, deploy, lowbit, lowbit.models, lowbit.pipeline.quantizers as q\n"
        "import numpy as np\n"
        "print(models.OWNER, pipeline.OWNER, deploy.OWNER)\n"
        "print(lowbit.__file__)\n"
        "print(lowbit.get_task('imdb-lstm').name, lowbit.quantize(np.array([-2.0, 0.0, 3.0]), 'bc').tolist())\n"
    )
    done = subprocess.run([str(env / "bin" / "python"), "-c", probe], cwd=user, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    owners, location, result = done.stdout.splitlines()
    assert owners == "user models user pipeline user deploy"
    assert location.startswith(str(site))
    assert result == "imdb-lstm [-1.0, 1.0, 1.0]"


@pytest.mark.slow
def test_the_wheel_carries_the_app_and_builds_its_apk_outside_a_checkout(installed_wheel, converted_runs, tmp_path):
    """Installed from the wheel and run from another folder, lowbit deploy --apk copies the app's
    sources (package data) beside the run and builds the signed APK of the run's phone file."""
    from lowbit.deploy import apk
    from lowbit.pipeline import downloads

    with zipfile.ZipFile(installed_wheel["wheel"]) as z:
        names = set(z.namelist())
    assert {"lowbit/android_demo/app/src/main/AndroidManifest.xml",
            "lowbit/android_demo/app/src/main/java/dev/lowbit/demo/TfLiteScorer.java"} <= names
    assert not any(n.startswith("lowbit/android_demo/app/src/main/assets/model") for n in names)
    runs = tmp_path / "runs"
    shutil.copytree(converted_runs["tc"], runs / "imdb-lstm-tc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([str(installed_wheel["env"] / "bin" / "python"), "-m", "lowbit.cli", "deploy",
                           str(runs / "imdb-lstm-tc"), "--apk", "demo.apk"], cwd=elsewhere, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOWBIT_CACHE": str(downloads.cache_dir())})
    assert done.returncode == 0, done.stderr[-2000:]
    assert (runs / "android_demo" / "app/src/main/assets/model.json").is_file()  # the copy beside the run
    info = apk.inspect(elsewhere / "demo.apk")
    assert info["signed"] and info["page_aligned"] and "dev.lowbit.demo.TfLiteScorer" in info["app_classes"]
    assert info["model_sha256"] == json.loads((runs / "imdb-lstm-tc/phone/manifest.json").read_text())[
        "artifacts"]["model.tflite"]["sha256"]
