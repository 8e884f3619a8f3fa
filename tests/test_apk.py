"""lowbit.deploy.apk: the Android demo built into a signed APK without Gradle, read back (badging,
alignment, signature, dex classes, native libraries, the bundled model), the app's screen run
on the JVM with Robolectric against a real run's model, and the refusals."""

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lowbit import cli
from lowbit.deploy import apk

ROOT = Path(__file__).resolve().parents[1]
ANDROID_DEMO = ROOT / "android_demo"
TEXT = "A wonderful film, the acting was superb and the story moving."


def copy_demo(target: Path) -> Path:
    shutil.copytree(ANDROID_DEMO, target, ignore=shutil.ignore_patterns("jvm-build", "build", ".gradle"))
    for name in ("model.tflite", "model.json", "vocab.txt"):
        (target / "app" / "src" / "main" / "assets" / name).unlink(missing_ok=True)
    return target


@pytest.fixture(scope="module")
def int8_run(converted_runs, tmp_path_factory):
    """The tc run with its .tflite weights stored INT8, what the APK's LiteRT 2.16.1 runs."""
    run = tmp_path_factory.mktemp("apk") / "imdb-lstm-tc"
    shutil.copytree(converted_runs["tc"], run)
    assert cli.main(["convert", str(run), "--to", "tflite", "--tflite-weights", "int8"]) == 0
    return run


@pytest.fixture(scope="module")
def built(int8_run, tmp_path_factory):
    demo = copy_demo(tmp_path_factory.mktemp("apk") / "android_demo")
    out = demo.parent / "demo.apk"
    assert cli.main(["deploy", str(int8_run), "--android", str(demo), "--apk", str(out)]) == 0
    return {"demo": demo, "apk": out, "inspect": apk.inspect(out)}


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_badging_names_the_package_sdk_levels_and_launcher(built):
    lines = built["inspect"]["badging_lines"]
    assert lines[0].startswith("package: name='dev.lowbit.demo' versionCode='1' versionName='0.1.0'")
    assert "sdkVersion:'24'" in lines and "targetSdkVersion:'35'" in lines
    assert any(line.startswith("launchable-activity: name='dev.lowbit.demo.MainActivity'") for line in lines)


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_apk_is_aligned_signed_and_memory_maps_its_model(built):
    info, path = built["inspect"], built["apk"]
    assert info["aligned"] and info["signed"] and info["model_stored"]
    assert subprocess.run(["zipalign", "-c", "-p", "4", str(path)]).returncode == 0
    verify = subprocess.run(["apksigner", "verify", "--verbose", str(path)], capture_output=True, text=True)
    assert verify.returncode == 0 and "Verified using v2 scheme (APK Signature Scheme v2): true" in verify.stdout
    with zipfile.ZipFile(path) as z:  # stored and 4-byte aligned: AssetManager.openFd maps it in place
        entry = z.getinfo("assets/model.tflite")
        header = path.read_bytes()[entry.header_offset:entry.header_offset + 30]
        data_start = entry.header_offset + 30 + int.from_bytes(header[26:28], "little") \
            + int.from_bytes(header[28:30], "little")
        assert entry.compress_type == zipfile.ZIP_STORED and data_start % 4 == 0


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_dex_defines_the_app_and_litert_interpreter(built):
    info = built["inspect"]
    for name in ("MainActivity", "TextClassifier", "LiteRtScorer", "Scorer", "core.TextPipeline", "core.Vocabulary"):
        assert f"dev.lowbit.demo.{name}" in info["app_classes"]
    assert "dev.lowbit.demo.OnnxRuntimeScorer" not in info["app_classes"]  # test code stays out
    assert info["litert_interpreter"]


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_native_libraries_for_phones_and_emulators(built):
    libs = built["inspect"]["native_libraries"]
    for abi in ("arm64-v8a", "armeabi-v7a", "x86_64", "x86"):
        assert libs[abi] == ["libtensorflowlite_jni.so"], abi


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_the_bundled_model_is_the_runs_file(built, int8_run):
    expected = hashlib.sha256((int8_run / "model.tflite").read_bytes()).hexdigest()
    assert built["inspect"]["model_sha256"] == expected
    metadata = json.loads((built["demo"] / "app/src/main/assets/model.json").read_text())
    assert metadata["sha256"] == expected


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_an_int2_run_is_refused_before_the_assets_change(converted_runs, tmp_path, capsys):
    demo = copy_demo(tmp_path / "android_demo")
    code = cli.main(["deploy", str(converted_runs["tc"]), "--android", str(demo), "--apk", str(tmp_path / "x.apk")])
    err = capsys.readouterr().err
    assert code == 2 and "stores INT2 weights, which LiteRT 2.16.1" in err and "--tflite-weights int8" in err
    assert len(err.strip().splitlines()) == 1
    assert not (demo / "app/src/main/assets/model.json").exists() and not (tmp_path / "x.apk").exists()


# --------------------------------------------------------------------------- the screen on the JVM


def predicted(run: Path) -> dict:
    """What ``lowbit predict`` prints for TEXT through the run's model.onnx."""
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "predict", str(run / "model.onnx"), TEXT],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def robolectric_jars(tmp_path: Path) -> list[Path]:
    lib = tmp_path / "lib"
    subprocess.run(["mvn", "-B", "-q", "-f", str(ANDROID_DEMO / "jvm-screen-test" / "pom.xml"),
                    "dependency:copy-dependencies", f"-DoutputDirectory={lib}"], check=True)
    jars = sorted(lib.glob("*.jar"))
    for aar in sorted(lib.glob("*.aar")):  # androidx.test's monitor etc.: their classes.jar
        jars.append(apk.aar_member(aar, "classes.jar", lib / f"{aar.stem}.classes.jar"))
    return jars


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_typing_a_review_and_pressing_classify_shows_what_lowbit_predict_prints(built, int8_run, tmp_path):
    expected = predicted(int8_run)
    metadata = json.loads((built["demo"] / "app/src/main/assets/model.json").read_text())
    labels = metadata["labels"]
    probability = expected["score"] if expected["label"] == labels[1] else 1 - expected["score"]
    main = built["demo"] / "app" / "src" / "main"
    jars = {f: f.fetch(progress=False) for f in (*apk.TOOLCHAIN, apk.ANDROID_ALL_INSTRUMENTED)}
    apk.link_resources(main, tmp_path)  # the app's resources and assets, as in the APK
    app_classes = apk.compile_app(main, tmp_path, jars)
    litert = [tmp_path / f"{f.filename}.classes.jar" for f in (apk.LITERT, apk.LITERT_API)]
    libraries = robolectric_jars(tmp_path)
    tests = tmp_path / "test-classes"
    sources = sorted(str(p) for p in (ANDROID_DEMO / "app/src/test/java/dev/lowbit/demo").glob("*.java"))
    classpath = [app_classes, *litert, *libraries, jars[apk.ANDROID_ALL]]
    compiled = subprocess.run(["javac", "--release", "17", "-nowarn", "-encoding", "UTF-8", "-d", str(tests),
                               "-cp", ":".join(map(str, classpath)), *sources], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    config = tmp_path / "config"
    (config / "com/android/tools").mkdir(parents=True)
    (config / "com/android/tools/test_config.properties").write_text(
        f"android_merged_manifest={tmp_path / 'AndroidManifest.xml'}\n"
        f"android_resource_apk={tmp_path / 'unsigned.apk'}\n"
        f"android_merged_assets={tmp_path / 'assets'}\n"
        f"android_custom_package={apk.APP.package}\n")
    (config / "robolectric.properties").write_text(f"sdk={apk.APP.target_sdk}\n")
    # Class path entries relative to tmp_path, the JVM's working directory: the same run with an
    # absolute class path of 3,890 characters died of SIGSEGV (no hs_err file) and passes at 1,286.
    relative = [p.relative_to(tmp_path) if p.is_relative_to(tmp_path) else p for p in [tests, config, *classpath]]
    done = subprocess.run(["java", "-Xmx2g", "--add-opens=java.base/java.io=ALL-UNNAMED",  # AssetManager.openFd's FileDescriptor
         f"-XX:ErrorFile={tmp_path / 'hs_err.log'}",
         "-Drobolectric.offline=true", f"-Drobolectric.dependency.dir={jars[apk.ANDROID_ALL_INSTRUMENTED].parent}",
         f"-Dlowbit.onnx={int8_run / 'model.onnx'}", f"-Dlowbit.text={TEXT}", f"-Dlowbit.label={expected['label']}",
         f"-Dlowbit.probability={probability}", f"-Dlowbit.tokens={expected['tokens']}",
         f"-Dlowbit.sequence_length={metadata['sequence_length']}",
         "-cp", ":".join(map(str, relative)), "org.junit.runner.JUnitCore", "dev.lowbit.demo.MainActivityTest"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    crash = (tmp_path / "hs_err.log").read_text()[:1500] if (tmp_path / "hs_err.log").is_file() else ""
    assert done.returncode == 0 and "OK (1 test)" in done.stdout, (done.stdout + done.stderr)[-3000:] + crash


# --------------------------------------------------------------------------- refusals, fast


def test_missing_build_tools_name_their_debian_packages(monkeypatch):
    monkeypatch.setattr(apk.shutil, "which", lambda tool: None if tool in ("aapt2", "keytool") else "/usr/bin/" + tool)
    with pytest.raises(apk.ApkError, match=r"needs the Debian package\(s\) aapt, default-jdk-headless "
                                           r"\(apt-get install aapt default-jdk-headless\)"):
        apk.check_tools()


def test_an_unreachable_maven_central_names_the_artifact_and_the_file_to_prefill(monkeypatch, tmp_path):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path))
    missing = apk.MavenFile("org.example:absent:1.0", "jar", "0" * 64)
    monkeypatch.setattr(apk, "MAVEN_CENTRAL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(apk.ApkError) as err:
        missing.fetch(progress=False)
    message = str(err.value)
    assert "org.example:absent:1.0" in message and str(tmp_path / "absent-1.0.jar") in message
    assert "\n" not in message


def test_pinned_files_resolve_to_maven_central_paths():
    assert apk.LITERT.url == ("https://repo1.maven.org/maven2/org/tensorflow/tensorflow-lite/2.16.1/"
                              "tensorflow-lite-2.16.1.aar")
    assert apk.ANDROID_ALL.filename == "android-all-15-robolectric-13954326.jar"
    assert all(len(f.sha256) == 64 for f in (*apk.TOOLCHAIN, apk.ANDROID_ALL_INSTRUMENTED, apk.ONNXRUNTIME_JAVA))


def test_run_with_apk_but_int2_weights_is_refused_before_training(tmp_path, capsys):
    code = cli.main(["run", "--out", str(tmp_path / "runs"), "--apk", str(tmp_path / "x.apk")])
    err = capsys.readouterr().err
    assert code == 2 and "--apk: the APK ships LiteRT 2.16.1" in err and "--tflite-weights int8" in err
    assert not (tmp_path / "runs").exists()


def test_dex_classes_reads_class_definitions():
    with pytest.raises(ValueError, match="not a dex file"):
        apk.dex_classes(b"PK\x03\x04")
