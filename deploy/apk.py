"""``lowbit deploy RUN_DIR --android android_demo --apk OUT.apk``: a signed debug APK, no Gradle.

Google's Maven (the Android Gradle plugin, D8) is out of reach here, so the APK is built from
parts that Maven Central and Debian serve, pinned in one place (:data:`TOOLCHAIN`, sha256 each,
cached in ``$LOWBIT_CACHE`` or ``~/.cache/lowbit``):

1. ``aapt2 compile`` / ``aapt2 link`` (Debian ``aapt``) the resources and manifest against API 29's
   ``framework-res.apk`` (Debian ``android-framework-res``), the assets included and every
   ``.tflite`` stored uncompressed so the app can memory-map it;
2. ``javac --release 17`` the app's sources against :data:`ANDROID_ALL` (Robolectric's
   ``android-all`` jar of the compile SDK: Android's framework classes) and LiteRT's classes;
3. D8 (:data:`D8`, Google's dexer as published on Maven Central) turns them and LiteRT's classes
   into ``classes.dex`` for :data:`APP` ``min_sdk``;
4. LiteRT's native libraries for :data:`ABIS` go to ``lib/<abi>/``;
5. ``zipalign -p 4`` and ``apksigner sign`` (Debian) with a debug key made by ``keytool`` on
   first use (``android-debug.keystore`` in the cache, never in git).

**The runtime.** LiteRT 2.3 (``com.google.ai.edge.litert``, what ``ai-edge-litert`` in
``pyproject.toml`` is and what runs lowbit's INT2/INT4 files) is not on Maven Central; the newest
LiteRT there is ``org.tensorflow:tensorflow-lite:2.16.1``, which the APK therefore ships. Measured
with its kernels (``tensorflow-cpu==2.16.1``'s interpreter): it refuses INT2 tensors when loading
("Unsupported data type 19") and fails INT4 ``DEQUANTIZE`` and ``EMBEDDING_LOOKUP``; float files
and files whose weights are stored INT8 (``lowbit convert --tflite-weights int8``) run.
:func:`check_runs_on_bundled_litert` refuses a bundle it cannot run, in one line, before any
build step. The Gradle project keeps LiteRT 2.3.0 from Google's Maven for Android Studio users.

:func:`inspect` reads an APK back (badging, alignment, signature, dex classes, native libraries,
the bundled model's sha256): the build returns it and the tests check it.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lowbit.pipeline import downloads
from lowbit.pipeline.errors import LowbitError

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


class ApkError(LowbitError):
    """The APK cannot be built here; the message says what is missing and how to provide it."""


@dataclass(frozen=True)
class MavenFile:
    """One pinned file of Maven Central: ``group:artifact:version``, its extension and sha256."""

    coordinates: str
    extension: str
    sha256: str

    @property
    def filename(self) -> str:
        _, artifact, version = self.coordinates.split(":")
        return f"{artifact}-{version}.{self.extension}"

    @property
    def url(self) -> str:
        group, artifact, version = self.coordinates.split(":")
        return f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/{self.filename}"

    def fetch(self, *, progress: bool = True) -> Path:
        """The cached file, downloaded and sha256-checked on first use."""
        try:
            return downloads.fetch(self.url, self.filename, sha256=self.sha256, progress=progress,
                                   hint=f"Maven Central is needed once for {self.coordinates}; or pre-fill "
                                        f"{downloads.cache_dir() / self.filename}")
        except downloads.DataUnavailableError as err:
            raise ApkError(str(err)) from None


LITERT = MavenFile("org.tensorflow:tensorflow-lite:2.16.1", "aar",
                   "34b065817e294e7dd3569504e8b9454938ceae453b6a459da54d5f6e45d3c94e")
LITERT_API = MavenFile("org.tensorflow:tensorflow-lite-api:2.16.1", "aar",
                       "885b95bc9e47a4aa5cf8e71523aed9b05e397cfef1ea09773f13fea8b649fcee")
ANDROID_ALL = MavenFile("org.robolectric:android-all:15-robolectric-13954326", "jar",
                        "e17105f6c432357e6bb278a527f8e848d01fc56ccee01be77725bea23d871990")
D8 = MavenFile("com.android.tools:r8:8.13.25", "jar",
               "0d4f2f68c4fcbc9434eff122f41feb6fb1d98efd2faa530cec1abacab1cea03d")
TOOLCHAIN = (LITERT, LITERT_API, ANDROID_ALL, D8)
# The JVM screen test's (android_demo/scripts/screen-test.sh): Robolectric's runtime jar for
# SDK 35 (fetched here so Robolectric runs offline) and ONNX Runtime's Java library (1.29.0, the
# newest on Maven Central; Python runs 1.32.0 and gives the same scores on lowbit's files).
ANDROID_ALL_INSTRUMENTED = MavenFile("org.robolectric:android-all-instrumented:15-robolectric-13954326-i7", "jar",
                                     "06c4c8602d6db7486266a982bc55834ed6dfebd62a0b88daca204139ecf142cb")
ONNXRUNTIME_JAVA = MavenFile("com.microsoft.onnxruntime:onnxruntime:1.29.0", "jar",
                             "5933bbc0c6c4d89afc04bf7c11011de23a947509c1352e5bf5936e62a84e4d10")


@dataclass(frozen=True)
class App:
    """The demo app's identity and SDK levels (the same in ``app/build.gradle``)."""

    package: str = "dev.lowbit.demo"
    version_code: int = 1
    version_name: str = "0.1.0"
    min_sdk: int = 24
    target_sdk: int = 35
    compile_sdk: int = 35  # ANDROID_ALL's API level


APP = App()
ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
# tool -> the Debian package that provides it
TOOLS = {"aapt2": "aapt", "zipalign": "zipalign", "apksigner": "apksigner", "javac": "default-jdk-headless",
         "java": "default-jdk-headless", "keytool": "default-jdk-headless"}
# stored tensor types the bundled LiteRT (2.16.1) cannot run, measured (module docstring)
UNSUPPORTED_TYPES = {"INT2": "refused when the model is loaded", "INT4": "its DEQUANTIZE and EMBEDDING_LOOKUP fail"}


def check_tools() -> dict[str, str]:
    """Paths of the build tools; :class:`ApkError` naming the Debian packages that are missing."""
    found = {tool: shutil.which(tool) for tool in TOOLS}
    missing = sorted({TOOLS[t] for t, path in found.items() if path is None}
                     | ({"android-framework-res"} if not FRAMEWORK_RES.is_file() else set()))
    if missing:
        raise ApkError(f"building the APK needs the Debian package(s) {', '.join(missing)} "
                       f"(apt-get install {' '.join(missing)})")
    return found


def check_runs_on_bundled_litert(model: bytes, *, where: str) -> None:
    """:class:`ApkError` if the ``.tflite`` stores tensors LiteRT 2.16.1 cannot run."""
    from lowbit.deploy.export.tflite_export import TYPE_NAMES, read

    types = sorted({TYPE_NAMES[t.type] for sg in read(model).subgraphs for t in sg.tensors} & set(UNSUPPORTED_TYPES))
    if types:
        why = "; ".join(f"{t}: {UNSUPPORTED_TYPES[t]}" for t in types)
        raise ApkError(f"{where} stores {' and '.join(types)} weights, which LiteRT {LITERT.coordinates.split(':')[2]} "
                       f"(the newest LiteRT on Maven Central, the one the APK ships) cannot run ({why}); "
                       "convert the run with --tflite-weights int8 and deploy again")


def _run(args: list, *, what: str, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ApkError(f"{what} failed: {detail[-1] if detail else f'exit code {done.returncode}'}")
    return done.stdout


def debug_keystore() -> Path:
    """The debug signing key, made with keytool on first use (alias ``androiddebugkey``,
    password ``android``, as Android's own debug key); kept in the cache, out of git."""
    path = downloads.cache_dir() / "android-debug.keystore"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        _run(["keytool", "-genkeypair", "-keystore", path, "-storetype", "PKCS12", "-storepass", "android",
              "-keypass", "android", "-alias", "androiddebugkey", "-keyalg", "RSA", "-keysize", "2048",
              "-validity", "10000", "-dname", "CN=Android Debug,O=Android,C=US"], what="keytool")
    return path


def build_apk(android_dir, out, *, progress: bool = True) -> dict:
    """Build, align and sign the demo's debug APK into ``out``; returns :func:`inspect` of it."""
    android_dir, out = Path(android_dir), Path(out)
    main = android_dir / "app" / "src" / "main"
    if not main.is_dir():
        raise ValueError(f"{android_dir} is not the lowbit Android demo (no app/src/main)")
    model = main / "assets" / "model.tflite"
    if not (main / "assets" / "model.json").is_file() or not model.is_file():
        raise ValueError(f"{android_dir} holds no bundled model; run lowbit deploy RUN_DIR --android {android_dir}")
    check_runs_on_bundled_litert(model.read_bytes(), where=str(model))
    if out.suffix != ".apk" or (out.exists() and not out.is_file()):
        raise ValueError(f"--apk {out}: expected a file name ending in .apk")
    check_tools()
    jars = {f: f.fetch(progress=progress) for f in TOOLCHAIN}
    with tempfile.TemporaryDirectory(prefix="lowbit-apk-") as tmp:
        work = Path(tmp)
        unsigned = link_resources(main, work)
        classes = compile_app(main, work, jars)
        _add_code(unsigned, work, classes, jars)
        aligned = work / "aligned.apk"
        _run(["zipalign", "-f", "-p", "4", unsigned, aligned], what="zipalign")
        out.parent.mkdir(parents=True, exist_ok=True)
        signed = work / "signed.apk"
        _run(["apksigner", "sign", "--ks", debug_keystore(), "--ks-pass", "pass:android", "--key-pass",
              "pass:android", "--ks-key-alias", "androiddebugkey", "--out", signed, aligned], what="apksigner sign")
        shutil.move(signed, out)
    return inspect(out)


def _manifest(main: Path, work: Path) -> Path:
    """The app's manifest with the package attribute Gradle adds from its namespace."""
    text = (main / "AndroidManifest.xml").read_text(encoding="utf-8")
    path = work / "AndroidManifest.xml"
    path.write_text(text.replace("<manifest ", f'<manifest package="{APP.package}" ', 1), encoding="utf-8")
    return path


def link_resources(main: Path, work: Path) -> Path:
    """``aapt2`` compile + link: resources, manifest and assets into ``work/unsigned.apk``, R.java
    into ``work/gen`` (the screen test uses the same linked resources)."""
    assets = work / "assets"
    assets.mkdir()
    for f in sorted((main / "assets").iterdir()):
        if f.is_file() and not f.name.startswith("."):  # as Gradle: no hidden files (lock files)
            shutil.copy2(f, assets / f.name)
    _run(["aapt2", "compile", "--dir", main / "res", "-o", work / "res.zip"], what="aapt2 compile")
    unsigned = work / "unsigned.apk"
    _run(["aapt2", "link", "-I", FRAMEWORK_RES, "--manifest", _manifest(main, work),
          "--min-sdk-version", APP.min_sdk, "--target-sdk-version", APP.target_sdk,
          "--version-code", APP.version_code, "--version-name", APP.version_name, "--debug-mode",
          "--java", work / "gen", "-A", assets, "-0", ".tflite", "-o", unsigned, work / "res.zip"],
         what="aapt2 link")
    return unsigned


def aar_member(aar: Path, member: str, target: Path) -> Path:
    """``member`` of an AAR (a zip), e.g. ``classes.jar``, written to ``target``."""
    with zipfile.ZipFile(aar) as z:
        target.write_bytes(z.read(member))
    return target


def compile_app(main: Path, work: Path, jars: dict) -> Path:
    """The app's classes (with R from :func:`link_resources`) as ``work/app-classes.jar``, compiled
    against android-all and LiteRT's classes (extracted to ``work/<aar>.classes.jar``)."""
    litert = [aar_member(jars[f], "classes.jar", work / f"{f.filename}.classes.jar") for f in (LITERT, LITERT_API)]
    sources = sorted(str(p) for p in [*(main / "java").rglob("*.java"), *(work / "gen").rglob("*.java")])
    classes = work / "classes"
    _run(["javac", "--release", "17", "-nowarn", "-encoding", "UTF-8", "-d", classes,
          "-cp", ":".join(map(str, [jars[ANDROID_ALL], *litert])), *sources], what="javac")
    jar = work / "app-classes.jar"
    with zipfile.ZipFile(jar, "w") as z:
        for f in sorted(classes.rglob("*.class")):
            z.write(f, f.relative_to(classes).as_posix())
    return jar


def _add_code(apk: Path, work: Path, classes: Path, jars: dict) -> None:
    """D8 the app's and LiteRT's classes into classes.dex; add it and LiteRT's native libraries."""
    java_home = Path(shutil.which("javac")).resolve().parent.parent
    litert = [work / f"{f.filename}.classes.jar" for f in (LITERT, LITERT_API)]
    dex = work / "dex"
    dex.mkdir()
    _run(["java", "-cp", jars[D8], "com.android.tools.r8.D8", "--release", "--min-api", APP.min_sdk,
          "--lib", jars[ANDROID_ALL], "--lib", java_home, "--output", dex, classes, *litert], what="D8")
    with zipfile.ZipFile(jars[LITERT]) as aar, zipfile.ZipFile(apk, "a", zipfile.ZIP_DEFLATED) as z:
        z.write(dex / "classes.dex", "classes.dex")
        for abi in ABIS:
            members = [m for m in aar.namelist() if m.startswith(f"jni/{abi}/") and m.endswith(".so")]
            if not members:
                raise ApkError(f"{LITERT.coordinates} has no native library for {abi}")
            for m in members:
                z.writestr(f"lib/{abi}/{Path(m).name}", aar.read(m))


# --------------------------------------------------------------------------- reading an APK back


def dex_classes(dex: bytes) -> set[str]:
    """Names (``a.b.C``) of the classes a ``classes.dex`` defines (its class_defs)."""
    if dex[:4] != b"dex\n":
        raise ValueError("not a dex file")
    string_ids_off, = struct.unpack_from("<I", dex, 0x3C)
    type_ids_off, = struct.unpack_from("<I", dex, 0x44)
    class_defs_size, class_defs_off = struct.unpack_from("<II", dex, 0x60)

    def string(i: int) -> str:
        offset, = struct.unpack_from("<I", dex, string_ids_off + 4 * i)
        while dex[offset] & 0x80:  # skip the ULEB128 length
            offset += 1
        end = dex.index(b"\0", offset + 1)
        return dex[offset + 1:end].decode("utf-8", "replace")

    names = set()
    for k in range(class_defs_size):
        type_idx, = struct.unpack_from("<I", dex, class_defs_off + 32 * k)
        descriptor_idx, = struct.unpack_from("<I", dex, type_ids_off + 4 * type_idx)
        names.add(string(descriptor_idx)[1:-1].replace("/", "."))
    return names


def inspect(apk) -> dict:
    """What an APK is: size, sha256, ``aapt2 dump badging``, alignment and signature checks, the
    classes its dex defines of the app and of LiteRT, native libraries per ABI, the bundled
    model's sha256 and how it is stored."""
    apk = Path(apk)
    badging = _run(["aapt2", "dump", "badging", apk], what="aapt2 dump badging")
    aligned = subprocess.run(["zipalign", "-c", "-p", "4", str(apk)], capture_output=True).returncode == 0
    verify = subprocess.run(["apksigner", "verify", "--print-certs", str(apk)], capture_output=True, text=True)
    with zipfile.ZipFile(apk) as z:
        classes = dex_classes(z.read("classes.dex"))
        libs = {abi: sorted(Path(n).name for n in z.namelist() if n.startswith(f"lib/{abi}/")) for abi in ABIS}
        model = z.getinfo("assets/model.tflite")
        model_sha = hashlib.sha256(z.read(model)).hexdigest()
    content = apk.read_bytes()
    return {
        "path": str(apk), "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
        "badging": badging.splitlines()[0] if badging else "", "badging_lines": badging.splitlines(),
        "aligned": aligned, "signed": verify.returncode == 0 and "Signer #1" in verify.stdout,
        "app_classes": sorted(c for c in classes if c.startswith(APP.package + ".")),
        "litert_interpreter": "org.tensorflow.lite.Interpreter" in classes,
        "native_libraries": libs, "model_sha256": model_sha,
        "model_stored": model.compress_type == zipfile.ZIP_STORED,
        "versions": {f.coordinates.split(":")[1]: f.coordinates.split(":")[2] for f in TOOLCHAIN},
    }
