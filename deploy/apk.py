"""``lowbit deploy RUN_DIR --android android_demo --apk OUT.apk``: a signed debug APK, no Gradle.

Google's Maven (the Android Gradle plugin, D8) is out of reach here, so the APK is built from
parts that Maven Central and Debian serve, pinned in one place (:data:`TOOLCHAIN`, sha256 each,
cached in ``$LOWBIT_CACHE`` or ``~/.cache/lowbit``):

1. ``aapt2 compile`` / ``aapt2 link`` (Debian ``aapt``) the resources and manifest against API 29's
   ``framework-res.apk`` (Debian ``android-framework-res``), the assets included and every
   ``.tflite`` stored uncompressed so the app can memory-map it;
2. ``javac --release 17`` the app's sources against :data:`ANDROID_ALL` (Robolectric's
   ``android-all`` jar of the compile SDK: Android's framework classes) and the runtime's classes;
3. D8 (:data:`D8`, Google's dexer as published on Maven Central) turns them and the runtime's
   classes into ``classes.dex`` for :data:`APP` ``min_sdk``; JavaCPP's ``*.properties``
   resources (:data:`JAVACPP_RESOURCES`, read by its loader at run time) go in beside it;
4. the runtime's native libraries for :data:`ABIS` (``libjnitensorflowlite.so``,
   ``libjnijavacpp.so``) go to ``lib/<abi>/``, stored;
5. :func:`align` puts every stored ``.so`` on a 16 KB boundary (:data:`PAGE`) and the other
   stored entries on 4 bytes, and ``apksigner sign`` (Debian) signs with a debug key made by
   ``keytool`` on first use (``android-debug.keystore`` in the cache, never in git).

**The runtime** is TensorFlow Lite 2.21 through Bytedeco's JavaCPP binding
(:data:`TFLITE`, :data:`JAVACPP`; the app's ``TfLiteScorer``): the only Android build on Maven
Central that runs INT2 and INT4 weights (``org.tensorflow:tensorflow-lite:2.16.1``, the last of
that name, refuses both; ``com.google.ai.edge.litert``, ``onnxruntime-android`` and ExecuTorch
are not served here). Its libraries exist for arm64-v8a and x86_64 only, have 16 KB-aligned
LOAD segments and need API 24. Which width of the codes the phone gets is measured per run
(:mod:`lowbit.deploy.phone`); :func:`check_runs_on_bundled_runtime` runs the bundled file once
in the same TFLite version (TensorFlow 2.21's interpreter) and refuses, in one line before any
build step, a file it cannot run. The Gradle project declares the same two artifacts.

:func:`inspect` reads an APK back (badging, alignment, signature, dex classes, native libraries
with their ELF and zip alignment, the bundled model's sha256): the build returns it and the tests check it.
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

from lowbit.pipeline import atomic, downloads
from lowbit.pipeline.errors import LowbitError

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


class ApkError(LowbitError):
    """The APK cannot be built here; the message says what is missing and how to provide it."""


@dataclass(frozen=True)
class MavenFile:
    """One pinned file of Maven Central: ``group:artifact:version``, its classifier (``""`` for
    the main file), extension and sha256."""

    coordinates: str
    extension: str
    sha256: str
    classifier: str = ""

    @property
    def version(self) -> str:
        return self.coordinates.split(":")[2]

    @property
    def filename(self) -> str:
        _, artifact, version = self.coordinates.split(":")
        return f"{artifact}-{version}{'-' + self.classifier if self.classifier else ''}.{self.extension}"

    @property
    def url(self) -> str:
        group, artifact, version = self.coordinates.split(":")
        return f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/{self.filename}"

    def fetch(self, *, progress: bool = True) -> Path:
        """The cached file, downloaded and sha256-checked on first use."""
        name = self.coordinates + (f" ({self.classifier})" if self.classifier else "")
        try:
            return downloads.fetch(self.url, self.filename, sha256=self.sha256, progress=progress,
                                   hint=f"Maven Central is needed once for {name}; or pre-fill "
                                        f"{downloads.cache_dir() / self.filename}")
        except downloads.DataUnavailableError as err:
            raise ApkError(str(err)) from None


# The runtime: TensorFlow Lite 2.21's C++ interpreter with Bytedeco's JavaCPP binding, classes and
# one native library per ABI (module docstring).
TFLITE_COORDINATES = "org.bytedeco:tensorflow-lite:2.21.0-1.5.14"
JAVACPP_COORDINATES = "org.bytedeco:javacpp:1.5.14"
TFLITE = MavenFile(TFLITE_COORDINATES, "jar", "d27baafef5f2ed1a74be4baacb07b1d632ca241527b47437130592dd864cc8f5")
JAVACPP = MavenFile(JAVACPP_COORDINATES, "jar", "cb95a82ce1c337690436017eb8886597de71c1463dc16a3570f6a96b7c98a82b")
# APK ABI -> (the runtime's native jar, JavaCPP's native jar) of that ABI
NATIVE = {
    "arm64-v8a": (
        MavenFile(TFLITE_COORDINATES, "jar", "48ab9eb112651e033259cb02e227724a882c49c456ec21d0664e6c8f1a0ab15d",
                  "android-arm64"),
        MavenFile(JAVACPP_COORDINATES, "jar", "c8912bf0f29c09a89ee09d5c4c3da5bee64fe0a73fd3ea59be4c56684b2b720a",
                  "android-arm64")),
    "x86_64": (
        MavenFile(TFLITE_COORDINATES, "jar", "c7b913da8c2cd4d4151090ed8d6c101a5b976c1f4999e3bb5c09d6803daff193",
                  "android-x86_64"),
        MavenFile(JAVACPP_COORDINATES, "jar", "22e4e6d9a7abdb4fb77b663bd700ef5fa429289e0f8bba946872a06303c7ba95",
                  "android-x86_64")),
}
ABIS = tuple(NATIVE)  # Bytedeco builds no 32-bit Android ABIs
ANDROID_ALL = MavenFile("org.robolectric:android-all:15-robolectric-13954326", "jar",
                        "e17105f6c432357e6bb278a527f8e848d01fc56ccee01be77725bea23d871990")
D8 = MavenFile("com.android.tools:r8:8.13.25", "jar",
               "0d4f2f68c4fcbc9434eff122f41feb6fb1d98efd2faa530cec1abacab1cea03d")
TOOLCHAIN = (TFLITE, JAVACPP, *(f for pair in NATIVE.values() for f in pair), ANDROID_ALL, D8)
# The JVM screen test's (tests/test_apk.py): Robolectric's runtime jar for SDK 35 (fetched here so
# Robolectric runs offline) and the runtime's desktop libraries, so that the test runs the real
# .tflite through the app's own scorer.
ANDROID_ALL_INSTRUMENTED = MavenFile("org.robolectric:android-all-instrumented:15-robolectric-13954326-i7", "jar",
                                     "06c4c8602d6db7486266a982bc55834ed6dfebd62a0b88daca204139ecf142cb")
JVM_NATIVE = (
    MavenFile(TFLITE_COORDINATES, "jar", "97061333854967aadf2f092681d63af90b804db3800f007cffd24a2901f4bc72",
              "linux-x86_64"),
    MavenFile(JAVACPP_COORDINATES, "jar", "1efab617735a44529bb85daaaefabe46c8686582989c46593c36569e9786fdaa",
              "linux-x86_64"),
)


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
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
# tool -> the Debian package that provides it
TOOLS = {"aapt2": "aapt", "zipalign": "zipalign", "apksigner": "apksigner", "javac": "default-jdk-headless",
         "java": "default-jdk-headless", "keytool": "default-jdk-headless"}
PAGE = 16384  # Android 15+ devices may use 16 KB pages: native libraries are aligned to them
# JavaCPP reads its platform's properties as Java resources at run time; they go to the APK's root
JAVACPP_RESOURCES = "org/bytedeco/javacpp/properties/"


def check_tools() -> dict[str, str]:
    """Paths of the build tools; :class:`ApkError` naming the Debian packages that are missing."""
    found = {tool: shutil.which(tool) for tool in TOOLS}
    missing = sorted({TOOLS[t] for t, path in found.items() if path is None}
                     | ({"android-framework-res"} if not FRAMEWORK_RES.is_file() else set()))
    if missing:
        raise ApkError(f"building the APK needs the Debian package(s) {', '.join(missing)} "
                       f"(apt-get install {' '.join(missing)})")
    return found


def check_abis(abis) -> tuple[str, ...]:
    """``abis`` as a tuple, or :class:`ApkError` naming those the runtime has no library for."""
    abis = tuple(abis)
    unknown = [a for a in abis if a not in NATIVE]
    if unknown or not abis:
        raise ApkError(f"ABI {', '.join(unknown) or '(none)'}: the APK's runtime ({TFLITE.coordinates}) is built "
                       f"for {' and '.join(NATIVE)} only; choose among them")
    return abis


def check_runs_on_bundled_runtime(model: bytes, *, where: str) -> None:
    """:class:`ApkError` unless the APK's runtime (TFLite 2.21) loads, allocates and runs the file."""
    from lowbit.deploy import phone

    try:
        phone.check_runs(model, where=where)
    except phone.PhoneRuntimeError as err:
        raise ApkError(str(err)) from None


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


def check_build(android_dir, out, *, abis=None, progress: bool = True) -> dict:
    """Everything a build needs but the bundled model, checked before any step: ``android_dir`` is
    the demo, ``out`` names an ``.apk`` file, the ABIs are the runtime's, the Debian tools are
    installed and every pinned file of :data:`TOOLCHAIN` is cached (fetched and sha256-checked
    now). Returns the toolchain's paths; one line (:class:`ApkError`, ``ValueError``) otherwise."""
    android_dir, out = Path(android_dir), Path(out)
    check_abis(ABIS if abis is None else abis)
    if not (android_dir / "app" / "src" / "main").is_dir():
        raise ValueError(f"{android_dir} is not the lowbit Android demo (no app/src/main)")
    if out.suffix != ".apk" or (out.exists() and not out.is_file()):
        raise ValueError(f"--apk {out}: expected a file name ending in .apk")
    atomic.check_claimable(out.parent, [out.name])  # a file of the user's named like the APK stays
    check_tools()
    return {f: f.fetch(progress=progress) for f in TOOLCHAIN}


def build_apk(android_dir, out, *, abis=None, progress: bool = True) -> dict:
    """Build, align and sign the demo's debug APK for ``abis`` (default :data:`ABIS`) into
    ``out``; returns :func:`inspect` of it. Every check (:func:`check_build`, the bundled model
    in the APK's runtime) comes before any build step; ``out`` is replaced only by a finished,
    signed APK."""
    android_dir, out = Path(android_dir), Path(out)
    abis = check_abis(ABIS if abis is None else abis)
    main = android_dir / "app" / "src" / "main"
    jars = check_build(android_dir, out, abis=abis, progress=progress)
    model = main / "assets" / "model.tflite"
    if not (main / "assets" / "model.json").is_file() or not model.is_file():
        raise ValueError(f"{android_dir} holds no bundled model; run lowbit deploy RUN_DIR --android {android_dir}")
    check_runs_on_bundled_runtime(model.read_bytes(), where=str(model))
    with tempfile.TemporaryDirectory(prefix="lowbit-apk-") as tmp:
        work = Path(tmp)
        unsigned = link_resources(main, work)
        classes = compile_app(main, work, jars)
        _add_code(unsigned, work, classes, jars, abis)
        aligned = work / "aligned.apk"
        aligned.write_bytes(align(unsigned.read_bytes()))
        out.parent.mkdir(parents=True, exist_ok=True)
        signed = work / "signed.apk"
        _run(["apksigner", "sign", "--ks", debug_keystore(), "--ks-pass", "pass:android", "--key-pass",
              "pass:android", "--ks-key-alias", "androiddebugkey", "--out", signed, aligned], what="apksigner sign")
        with atomic.replacing(out) as tmp:
            shutil.move(signed, tmp)
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
    against android-all and the runtime's classes (TFLite's binding and JavaCPP)."""
    sources = sorted(str(p) for p in [*(main / "java").rglob("*.java"), *(work / "gen").rglob("*.java")])
    classes = work / "classes"
    _run(["javac", "--release", "17", "-nowarn", "-encoding", "UTF-8", "-d", classes,
          "-cp", ":".join(map(str, [jars[ANDROID_ALL], jars[TFLITE], jars[JAVACPP]])), *sources], what="javac")
    jar = work / "app-classes.jar"
    with zipfile.ZipFile(jar, "w") as z:
        for f in sorted(classes.rglob("*.class")):
            z.write(f, f.relative_to(classes).as_posix())
    return jar


def _add_code(apk: Path, work: Path, classes: Path, jars: dict, abis) -> None:
    """D8 the app's and the runtime's classes into classes.dex; add it, JavaCPP's properties
    resources and, for each of ``abis``, the runtime's two native libraries (stored, to be
    page-aligned by :func:`align`)."""
    java_home = Path(shutil.which("javac")).resolve().parent.parent
    dex = work / "dex"
    dex.mkdir()
    _run(["java", "-cp", jars[D8], "com.android.tools.r8.D8", "--release", "--min-api", APP.min_sdk,
          "--lib", jars[ANDROID_ALL], "--lib", java_home, "--output", dex, classes, jars[TFLITE], jars[JAVACPP]],
         what="D8")
    with zipfile.ZipFile(apk, "a", zipfile.ZIP_DEFLATED) as z:
        z.write(dex / "classes.dex", "classes.dex")
        with zipfile.ZipFile(jars[JAVACPP]) as javacpp:
            for name in sorted(javacpp.namelist()):
                if name.startswith(JAVACPP_RESOURCES) and name.endswith(".properties"):
                    z.writestr(name, javacpp.read(name))
        for abi in abis:
            for native in NATIVE[abi]:
                with zipfile.ZipFile(jars[native]) as jar:
                    members = [m for m in jar.namelist() if m.startswith(f"lib/{abi}/") and m.endswith(".so")]
                    if not members:
                        raise ApkError(f"{native.filename} has no native library for {abi}")
                    for m in members:
                        z.writestr(zipfile.ZipInfo(m, date_time=(1980, 1, 1, 0, 0, 0)), jar.read(m),
                                   compress_type=zipfile.ZIP_STORED)


def align(apk: bytes, *, page: int = PAGE, other: int = 4) -> bytes:
    """The zip ``apk`` rewritten so that every stored ``.so`` starts on a ``page`` boundary and
    every other stored entry on ``other`` bytes (what ``zipalign -P 16`` does; Debian's zipalign
    predates ``-P``). Entries keep their order, names, data and compression; the padding is an
    extra field of ID 0xD935, as zipalign writes. Done before signing (APK Signature Scheme v2
    covers the entries' offsets)."""
    import io

    source = zipfile.ZipFile(io.BytesIO(apk))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in source.infolist():
            data = source.read(info)
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.compress_type, target.external_attr = info.compress_type, info.external_attr
            if info.compress_type == zipfile.ZIP_STORED:
                boundary = page if info.filename.endswith(".so") else other
                start = out.tell() + 30 + len(info.filename.encode("utf-8"))
                pad = -(start + 4) % boundary  # the extra field's own 4-byte header, then padding
                target.extra = struct.pack("<HH", 0xD935, pad) + b"\0" * pad
            z.writestr(target, data)
    return out.getvalue()


def elf_load_alignments(library: bytes) -> list[int]:
    """``p_align`` of every PT_LOAD segment of a 64-bit little-endian ELF file."""
    if library[:4] != b"\x7fELF" or library[4] != 2 or library[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    phoff, = struct.unpack_from("<Q", library, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", library, 0x36)
    alignments = []
    for k in range(phnum):
        p_type, = struct.unpack_from("<I", library, phoff + k * phentsize)
        if p_type == 1:  # PT_LOAD
            alignments.append(struct.unpack_from("<Q", library, phoff + k * phentsize + 0x30)[0])
    return alignments


def data_offset(apk: bytes, info: zipfile.ZipInfo) -> int:
    """Where the data of the zip entry ``info`` starts in ``apk`` (after its local header)."""
    header = apk[info.header_offset:info.header_offset + 30]
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    return info.header_offset + 30 + name_length + extra_length


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
    classes its dex defines of the app and of the runtime, its native libraries per ABI (each
    with its PT_LOAD alignments, whether it is stored and where its data starts), JavaCPP's
    resources, the bundled model's sha256 and how it is stored."""
    apk = Path(apk)
    badging = _run(["aapt2", "dump", "badging", apk], what="aapt2 dump badging")
    aligned = subprocess.run(["zipalign", "-c", "-p", "4", str(apk)], capture_output=True).returncode == 0
    verify = subprocess.run(["apksigner", "verify", "--print-certs", str(apk)], capture_output=True, text=True)
    content = apk.read_bytes()
    with zipfile.ZipFile(apk) as z:
        classes = dex_classes(z.read("classes.dex"))
        libraries = {}
        for info in z.infolist():
            if info.filename.startswith("lib/") and info.filename.endswith(".so"):
                abi = info.filename.split("/")[1]
                libraries.setdefault(abi, {})[Path(info.filename).name] = {
                    "size_bytes": info.file_size, "stored": info.compress_type == zipfile.ZIP_STORED,
                    "data_offset": data_offset(content, info),
                    "load_alignments": elf_load_alignments(z.read(info))}
        resources = sorted(n for n in z.namelist() if n.startswith(JAVACPP_RESOURCES))
        model = z.getinfo("assets/model.tflite")
        model_sha = hashlib.sha256(z.read(model)).hexdigest()
    return {
        "path": str(apk), "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
        "badging": badging.splitlines()[0] if badging else "", "badging_lines": badging.splitlines(),
        "aligned": aligned, "signed": verify.returncode == 0 and "Signer #1" in verify.stdout,
        "app_classes": sorted(c for c in classes if c.startswith(APP.package + ".")),
        "runtime_interpreter": "org.bytedeco.tensorflowlite.Interpreter" in classes,
        "old_litert_classes": sorted(c for c in classes if c.startswith("org.tensorflow.lite.")),
        "native_libraries": {abi: sorted(libs) for abi, libs in libraries.items()},
        "libraries": libraries, "javacpp_resources": resources,
        "page_aligned": all(lib["stored"] and lib["data_offset"] % PAGE == 0 and min(lib["load_alignments"]) >= PAGE
                            for libs in libraries.values() for lib in libs.values()), "model_sha256": model_sha,
        "model_stored": model.compress_type == zipfile.ZIP_STORED,
        "versions": {f.coordinates.split(":")[1]: f.version for f in (TFLITE, JAVACPP, ANDROID_ALL, D8)},
    }
