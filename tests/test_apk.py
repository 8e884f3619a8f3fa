"""lowbit.deploy.apk: the Android demo built into a signed APK without Gradle, read back (badging,
alignment, signature, dex classes, native libraries, the bundled model), the app's screen run
on the JVM with Robolectric against a real run's model, and the refusals."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lowbit import cli
from lowbit.deploy import apk
from lowbit.pipeline import atomic

ROOT = Path(__file__).resolve().parents[1]
ANDROID_DEMO = ROOT / "android_demo"
TEXT = "A wonderful film, the acting was superb and the story moving."


def copy_demo(target: Path) -> Path:
    shutil.copytree(ANDROID_DEMO, target, ignore=shutil.ignore_patterns("jvm-build", "build", ".gradle"))
    for name in ("model.tflite", "model.json", "vocab.txt"):
        (target / "app" / "src" / "main" / "assets" / name).unlink(missing_ok=True)
    return target


@pytest.fixture(scope="module")
def tc_run(converted_runs, tmp_path_factory):
    """A copy of the tc run (its own .tflite INT2, its phone file measured by conftest)."""
    run = tmp_path_factory.mktemp("apk") / "imdb-lstm-tc"
    shutil.copytree(converted_runs["tc"], run)
    return run


@pytest.fixture(scope="module")
def built(tc_run, tmp_path_factory):
    demo = copy_demo(tmp_path_factory.mktemp("apk") / "android_demo")
    out = demo.parent / "demo.apk"
    assert cli.main(["deploy", str(tc_run), "--android", str(demo), "--apk", str(out)]) == 0
    return {"demo": demo, "apk": out, "inspect": apk.inspect(out)}


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_badging_names_the_package_sdk_levels_and_launcher(built):
    lines = built["inspect"]["badging_lines"]
    assert lines[0].startswith("package: name='dev.lowbit.demo' versionCode='1' versionName='0.1.0'")
    assert "sdkVersion:'24'" in lines and "targetSdkVersion:'35'" in lines
    assert any(line.startswith("launchable-activity: name='dev.lowbit.demo.MainActivity'") for line in lines)
    assert "native-code: 'arm64-v8a' 'x86_64'" in lines


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_apk_is_aligned_signed_and_memory_maps_its_model(built):
    info, path = built["inspect"], built["apk"]
    assert info["aligned"] and info["signed"] and info["model_stored"]
    assert subprocess.run(["zipalign", "-c", "-p", "4", str(path)]).returncode == 0
    verify = subprocess.run(["apksigner", "verify", "--verbose", str(path)], capture_output=True, text=True)
    assert verify.returncode == 0 and "Verified using v2 scheme (APK Signature Scheme v2): true" in verify.stdout
    content = path.read_bytes()
    with zipfile.ZipFile(path) as z:  # stored and 4-byte aligned: AssetManager.openFd maps it in place
        entry = z.getinfo("assets/model.tflite")
        assert entry.compress_type == zipfile.ZIP_STORED and apk.data_offset(content, entry) % 4 == 0


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_dex_defines_the_app_and_the_runtime_and_nothing_of_tflite_2_16(built):
    info = built["inspect"]
    for name in ("MainActivity", "TextClassifier", "TfLiteScorer", "Scorer", "core.TextPipeline", "core.Vocabulary"):
        assert f"dev.lowbit.demo.{name}" in info["app_classes"]
    assert "dev.lowbit.demo.RecordingScorer" not in info["app_classes"]  # test code stays out
    assert info["runtime_interpreter"] and info["old_litert_classes"] == []
    assert {"org/bytedeco/javacpp/properties/android-arm64.properties",
            "org/bytedeco/javacpp/properties/android-x86_64.properties"} <= set(info["javacpp_resources"])


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_native_libraries_load_on_16_kb_page_devices(built):
    """Every .so: PT_LOAD segments aligned to >= 16 KB, stored, its data on a 16 KB boundary."""
    info = built["inspect"]
    assert info["native_libraries"] == {abi: ["libjnijavacpp.so", "libjnitensorflowlite.so"]
                                        for abi in ("arm64-v8a", "x86_64")}
    for abi, libraries in info["libraries"].items():
        for name, library in libraries.items():
            assert library["load_alignments"] and min(library["load_alignments"]) >= 16384, (abi, name, library)
            assert library["stored"] and library["data_offset"] % 16384 == 0, (abi, name, library)
    assert info["page_aligned"]


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
def test_the_bundled_model_is_the_runs_phone_file(built, tc_run):
    expected = hashlib.sha256((tc_run / "phone" / "model.tflite").read_bytes()).hexdigest()
    assert built["inspect"]["model_sha256"] == expected
    metadata = json.loads((built["demo"] / "app/src/main/assets/model.json").read_text())
    width = json.loads((tc_run / "phone" / "width.json").read_text())
    assert metadata["sha256"] == expected and metadata["weight_bits"] == width["chosen_bits"]
    assert set(width["widths"]) == {"int2", "int4"} and width["chosen"] in width["widths"]
    assert (tc_run / "phone" / "width.md").read_text().count("(chosen)") == 1


# --------------------------------------------------------------------------- the screen on the JVM


def robolectric_jars(tmp_path: Path) -> list[Path]:
    lib = tmp_path / "lib"
    subprocess.run(["mvn", "-B", "-q", "-f", str(ANDROID_DEMO / "jvm-screen-test" / "pom.xml"),
                    "dependency:copy-dependencies", f"-DoutputDirectory={lib}"], check=True)
    jars = sorted(lib.glob("*.jar"))
    for aar in sorted(lib.glob("*.aar")):  # androidx.test's monitor etc.: their classes.jar
        jars.append(apk.aar_member(aar, "classes.jar", lib / f"{aar.stem}.classes.jar"))
    return jars


def bundle_width(demo: Path, run: Path, bits: int) -> Path:
    """The demo's assets holding the run's codes at ``bits`` (the run's own INT2 file, or the
    phone's INT4), with model.json's file fields to match."""
    assets = demo / "app/src/main/assets"
    source = run / "model.tflite" if bits == 2 else run / "phone" / "model.tflite"
    manifest = json.loads((source.parent / "manifest.json").read_text())["artifacts"]["model.tflite"]
    assert manifest["weight_bits"] == bits
    metadata = json.loads((assets / "model.json").read_text())
    content = source.read_bytes()
    metadata.update(sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content), weight_bits=bits,
                    bits_per_weight=manifest["bits_per_weight"])
    (assets / "model.tflite").write_bytes(content)
    (assets / "model.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return source


def python_scores(model: Path, vocab: Path, sequence_length: int) -> tuple[list[float], int]:
    """Python LiteRT's scores for TEXT through ``model`` and the token count, as the app feeds it."""
    from ai_edge_litert.interpreter import Interpreter

    from lowbit.pipeline.data.text import Vocabulary, tokenize

    vocabulary = Vocabulary.load(vocab)
    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], vocabulary.sequence(TEXT, sequence_length)[None])
    interpreter.invoke()
    scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    return [float(v) for v in scores], len(tokenize(TEXT))  # every token, as lowbit predict counts


@pytest.fixture(scope="module")
def screen_test(built, tmp_path_factory):
    """The app's classes, its test classes and the class path of the JVM screen test, built once."""
    work = tmp_path_factory.mktemp("screen")
    main = built["demo"] / "app" / "src" / "main"
    jars = {f: f.fetch(progress=False) for f in (*apk.TOOLCHAIN, apk.ANDROID_ALL_INSTRUMENTED, *apk.JVM_NATIVE)}
    apk.link_resources(main, work)  # the app's resources, as in the APK (assets are replaced per case)
    app_classes = apk.compile_app(main, work, jars)
    runtime = [jars[apk.TFLITE], jars[apk.JAVACPP], *(jars[f] for f in apk.JVM_NATIVE)]
    classpath = [app_classes, *runtime, *robolectric_jars(work), jars[apk.ANDROID_ALL]]
    tests = work / "test-classes"
    sources = sorted(str(p) for p in (ANDROID_DEMO / "app/src/test/java/dev/lowbit/demo").glob("*.java"))
    compiled = subprocess.run(["javac", "--release", "17", "-nowarn", "-encoding", "UTF-8", "-d", str(tests),
                               "-cp", ":".join(map(str, classpath)), *sources], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    return {"work": work, "classpath": [tests, *classpath], "dependency_dir": jars[apk.ANDROID_ALL_INSTRUMENTED].parent}


@pytest.mark.slow  # builds from Maven Central jars once, compiles, dexes, runs the JVM
@pytest.mark.parametrize("bits", [2, 4], ids=["int2", "int4"])
def test_the_screen_runs_the_real_model_through_the_apps_scorer(built, tc_run, screen_test, bits, tmp_path):
    demo = copy_demo(tmp_path / "android_demo")
    shutil.copytree(built["demo"] / "app/src/main/assets", demo / "app/src/main/assets", dirs_exist_ok=True)
    model = bundle_width(demo, tc_run, bits)
    metadata = json.loads((demo / "app/src/main/assets/model.json").read_text())
    scores, tokens = python_scores(model, tc_run / "vocab.txt", metadata["sequence_length"])
    labels = metadata["labels"]
    label = labels[1] if scores[0] > metadata["threshold"] else labels[0]
    probability = scores[0] if label == labels[1] else 1 - scores[0]
    apk.link_resources(demo / "app/src/main", tmp_path)  # this case's assets, linked as in the APK
    config = tmp_path / "config"
    (config / "com/android/tools").mkdir(parents=True)
    (config / "com/android/tools/test_config.properties").write_text(
        f"android_merged_manifest={tmp_path / 'AndroidManifest.xml'}\n"
        f"android_resource_apk={tmp_path / 'unsigned.apk'}\n"
        f"android_merged_assets={tmp_path / 'assets'}\n"
        f"android_custom_package={apk.APP.package}\n")
    (config / "robolectric.properties").write_text(f"sdk={apk.APP.target_sdk}\n")
    # Class path entries relative to the JVM's working directory: the same run with an absolute
    # class path of 3,890 characters died of SIGSEGV (no hs_err file) and passes at 1,286.
    work = screen_test["work"]
    classpath = [config, *screen_test["classpath"]]
    relative = [os.path.relpath(p, work) for p in classpath]
    done = subprocess.run(["java", "-Xmx2g", "--add-opens=java.base/java.io=ALL-UNNAMED",  # AssetManager.openFd's FileDescriptor
         f"-XX:ErrorFile={tmp_path / 'hs_err.log'}",
         "-Drobolectric.offline=true", f"-Drobolectric.dependency.dir={screen_test['dependency_dir']}",
         f"-Dlowbit.text={TEXT}", f"-Dlowbit.label={label}", f"-Dlowbit.probability={probability}",
         f"-Dlowbit.scores={','.join(repr(v) for v in scores)}", f"-Dlowbit.tokens={tokens}",
         f"-Dlowbit.sequence_length={metadata['sequence_length']}",
         "-cp", ":".join(relative), "org.junit.runner.JUnitCore", "dev.lowbit.demo.MainActivityTest"],
        cwd=work, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    crash = (tmp_path / "hs_err.log").read_text()[:1500] if (tmp_path / "hs_err.log").is_file() else ""
    assert done.returncode == 0 and "OK (1 test)" in done.stdout, (done.stdout + done.stderr)[-3000:] + crash
    # the app's own scores, checked in Java too (JUnitCore's progress dots may precede a line)
    shown = [float(v) for v in re.findall(r"lowbit\.score=(\S+)", done.stdout)]
    print(f"INT{bits}: the app's scores {shown}, Python LiteRT's {scores}")
    assert len(shown) == len(scores) and max(abs(a - b) for a, b in zip(shown, scores)) <= 1e-5


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
    assert apk.TFLITE.url == ("https://repo1.maven.org/maven2/org/bytedeco/tensorflow-lite/2.21.0-1.5.14/"
                              "tensorflow-lite-2.21.0-1.5.14.jar")
    arm64, _ = apk.NATIVE["arm64-v8a"]
    assert arm64.url.endswith("/org/bytedeco/tensorflow-lite/2.21.0-1.5.14/tensorflow-lite-2.21.0-1.5.14-android-arm64.jar")
    assert apk.ANDROID_ALL.filename == "android-all-15-robolectric-13954326.jar"
    files = (*apk.TOOLCHAIN, apk.ANDROID_ALL_INSTRUMENTED, *apk.JVM_NATIVE)
    assert all(len(f.sha256) == 64 for f in files) and len({f.filename for f in files}) == len(files)


@pytest.mark.parametrize("abis, named", [(["armeabi-v7a"], "armeabi-v7a"), (["x86", "x86_64"], "x86"), ([], "(none)")],
                         ids=["32-bit-arm", "one-unknown", "none"])
def test_an_abi_the_runtime_is_not_built_for_is_one_line(abis, named):
    with pytest.raises(apk.ApkError) as err:
        apk.check_abis(abis)
    assert f"ABI {named}:" in str(err.value) and "arm64-v8a and x86_64" in str(err.value) and "\n" not in str(err.value)


def test_deploy_with_an_unknown_abi_is_refused_before_the_assets_change(tmp_path, capsys):
    demo = copy_demo(tmp_path / "android_demo")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["deploy", str(tmp_path / "run"), "--android", str(demo), "--apk", str(tmp_path / "x.apk"),
                  "--abis", "armeabi-v7a"])
    assert exit_.value.code == 2 and "ABI armeabi-v7a:" in capsys.readouterr().err
    assert not (demo / "app/src/main/assets/model.json").exists() and not (tmp_path / "x.apk").exists()


def test_run_with_a_bad_apk_name_is_refused_before_training(tmp_path, capsys):
    code = cli.main(["run", "--out", str(tmp_path / "runs"), "--apk", str(tmp_path / "demo.zip")])
    err = capsys.readouterr().err
    assert code == 2 and "expected a file name ending in .apk" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_users_file_named_like_the_apk_is_refused_before_any_build(tmp_path):
    (tmp_path / "demo.apk").write_bytes(b"mine")
    with pytest.raises(atomic.ForeignFileError, match="demo.apk is not lowbit's to replace"):
        apk.check_build(ANDROID_DEMO, tmp_path / "demo.apk")
    assert (tmp_path / "demo.apk").read_bytes() == b"mine"


def test_a_model_the_bundled_runtime_cannot_run_is_one_line():
    from lowbit.deploy.export import tflite_export
    from lowbit.pipeline.keras2 import keras

    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,))])
    flat = tflite_export.convert_keras_model(model, scheme="fp")
    apk.check_runs_on_bundled_runtime(flat, where="fine.tflite")  # the float file runs
    broken = tflite_export.read(flat)
    for tensor in broken.subgraphs[0].tensors:  # the kernel's type no longer fits its bytes
        if tflite_export.constant(broken, broken.subgraphs[0], broken.subgraphs[0].tensors.index(tensor)) is not None:
            tensor.type = tflite_export.T.INT2
    with pytest.raises(apk.ApkError) as err:
        apk.check_runs_on_bundled_runtime(tflite_export.write(broken), where="broken.tflite")
    assert str(err.value).startswith("broken.tflite: the APK's runtime, TensorFlow Lite 2.21, cannot run it (")
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- reading and aligning zips


def test_align_puts_stored_libraries_on_16_kb_pages_and_keeps_every_entry(tmp_path):
    source = tmp_path / "in.zip"
    with zipfile.ZipFile(source, "w") as z:
        z.writestr("AndroidManifest.xml", b"<manifest/>" * 50, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("assets/model.tflite", b"\x01" * 1001, compress_type=zipfile.ZIP_STORED)
        for k, abi in enumerate(("arm64-v8a", "x86_64")):
            z.writestr(f"lib/{abi}/libx.so", bytes(range(256)) * (k + 3), compress_type=zipfile.ZIP_STORED)
        z.writestr("classes.dex", b"dex\n" + b"\0" * 333, compress_type=zipfile.ZIP_DEFLATED)
    aligned = apk.align(source.read_bytes())
    (tmp_path / "out.zip").write_bytes(aligned)
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(tmp_path / "out.zip") as after:
        assert after.testzip() is None
        assert [i.filename for i in after.infolist()] == [i.filename for i in before.infolist()]
        for old, new in zip(before.infolist(), after.infolist()):
            assert after.read(new) == before.read(old) and new.compress_type == old.compress_type
            start = apk.data_offset(aligned, new)
            if new.filename.endswith(".so"):
                assert start % 16384 == 0, new.filename
            elif new.compress_type == zipfile.ZIP_STORED:
                assert start % 4 == 0, new.filename
    assert subprocess.run(["zipalign", "-c", "-p", "4", str(tmp_path / "out.zip")]).returncode == 0


def test_elf_load_alignments_of_a_system_library_and_of_no_elf():
    libc = Path("/lib/x86_64-linux-gnu/libc.so.6")
    alignments = apk.elf_load_alignments(libc.read_bytes())
    assert alignments and all(a >= 4096 and a & (a - 1) == 0 for a in alignments)
    with pytest.raises(ValueError, match="not a 64-bit little-endian ELF"):
        apk.elf_load_alignments(b"PK\x03\x04" + b"\0" * 60)


def test_dex_classes_reads_class_definitions():
    with pytest.raises(ValueError, match="not a dex file"):
        apk.dex_classes(b"PK\x03\x04")
