"""Real datasets that registry packages ship, written in the forms ``lowbit run --data`` takes.

* ``japanese-vowels`` — speech features: nine male speakers saying /ae/, 12 LPC cepstrum
  coefficients per frame, 7–29 frames (Kudo et al., 1999; UCI). 270 training and 370 test
  utterances, 9 classes (the speaker). Read from the ``.ts`` files inside the sktime 1.2.0 wheel
  on PyPI (``sktime/datasets/data/JapaneseVowels/``). Written as an ``.npz``: x float32
  ``(n, 29, 12)``, utterances **front**-padded with zero frames to 29 (a recurrent layer reads the
  padding first, then the utterance), y int32 speaker ids 0–8.
* ``fortunes-langid`` — language identification of short texts: the fortune cookie collections of
  Debian's ``fortunes*`` packages in English, German, Spanish, Italian, Portuguese, Polish, Czech
  and Esperanto (Russian was left out while lowbit's tokenizer kept ASCII letters only; the
  corpus stays as it was so that its recorded results hold). Per language up to 2,000 fortunes of at least 20 characters (attribution lines
  "-- Author" dropped, cut at 200 characters), a seeded 80/20 split. Written as a text folder
  ``OUT/{train,test}/<language>/<k>.txt``.

Every download is an official URL or ``pip download`` from the package index, sha256-checked and
cached (:func:`lowbit.pipeline.downloads.fetch`). Files are written atomically, all at the end;
an output folder that holds other files than the dataset's is refused.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.pipeline import atomic
from lowbit.pipeline.downloads import DataUnavailableError, cache_dir, fetch, file_hash

SKTIME_WHEEL = "sktime-1.2.0-py3-none-any.whl"
SKTIME_SHA256 = "dbffc6731d2d683b668dceb5e2bbc5804bebc8446b4c580803a281684d90e4ae"
VOWELS = "sktime/datasets/data/JapaneseVowels/JapaneseVowels_{split}.ts"
VOWEL_FRAMES = 29

DEBIAN = "http://deb.debian.org/debian/"


@dataclass(frozen=True)
class DebianPackage:
    path: str  # in the pool
    sha256: str
    keep: str  # regex on the file path under usr/share/games/fortunes/


FORTUNES = {  # label -> the package holding that language's fortunes (Debian bookworm)
    "en": DebianPackage("pool/main/f/fortune-mod/fortunes_1.99.1-7.3_all.deb",
                        "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5", r"^[^/]+$"),
    "de": DebianPackage("pool/main/f/fortunes-de/fortunes-de_0.35-1_all.deb",
                        "03fe7a7912935bd3d4e02e38d79ef32a289097f8718d4488c409595abce067a0", r"^de/"),
    "es": DebianPackage("pool/main/f/fortunes-es/fortunes-es_1.36_all.deb",
                        "54636edc1a4384093b68d1666c7e702ce42d1fcc8b5ab402d9646c328dcca899", r"^es/(?!off/)"),
    "it": DebianPackage("pool/main/f/fortunes-it/fortunes-it_1.99-4.1_all.deb",
                        "675df6ecb00c3b67d06b39ab223ff17f1ef1d0ec82a7e40f989356a2eb61a97e", r"^it/"),
    "pt": DebianPackage("pool/main/f/fortunes-br/fortunes-br_20220821_all.deb",
                        "0a181b5fdf4f9d83dd519c4a50af2e68d88c85d27ab32f665c72e5fc67331a4c", r"."),
    "pl": DebianPackage("pool/main/f/fortunes-pl/fortunes-pl_0.0.20130525-3_all.deb",
                        "39602aece2081a67c9e95ff7f6e8b0b8fc2cce971e920a31d04133d4ac007ad0", r"^pl/"),
    "cs": DebianPackage("pool/main/f/fortunes-cs/fortunes-cs_2.0.9-1.1_all.deb",
                        "5a38a15bcd58c6a2f777a1f2db8d51da901bc3d0147b2db3597c8a1b78acb447", r"^cs/(?!klasik-sk)"),
    "eo": DebianPackage("pool/main/f/fortunes-eo/fortunes-eo_20020729b-1.1_all.deb",
                        "23e258836bd9c76c47c71f6a365aea469563748fd4c6737bb636328da97302bf", r"^eo/"),
}
PER_LANGUAGE, MIN_CHARS, MAX_CHARS, TEST_SHARE = 2_000, 20, 200, 0.2

DATASETS = ("japanese-vowels", "fortunes-langid")


def write(name: str, out, *, progress: bool = True) -> Path:
    """Write dataset ``name`` (one of :data:`DATASETS`) to ``out``; returns the path written
    (the ``.npz`` file or the text folder)."""
    if name == "japanese-vowels":
        return _write_vowels(Path(out), progress)
    if name == "fortunes-langid":
        return _write_langid(Path(out), progress)
    raise ValueError(f"unknown dataset {name!r}; valid choices: {', '.join(DATASETS)}")


# --------------------------------------------------------------------------- Japanese vowels


def sktime_wheel(progress: bool = True) -> Path:
    """The sktime wheel from the package index (``pip download``), sha256-checked and cached."""
    target = cache_dir() / SKTIME_WHEEL
    if target.is_file() and file_hash(target, "sha256") == SKTIME_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                           "sktime==1.2.0", "-d", str(target.parent)], capture_output=True, text=True)
    if done.returncode != 0 or not target.is_file():
        raise DataUnavailableError(f"pip download sktime==1.2.0 failed ({(done.stderr or '').strip()[-200:]}); "
                                   f"put {SKTIME_WHEEL} into {target.parent}")
    if (actual := file_hash(target, "sha256")) != SKTIME_SHA256:
        target.unlink()
        raise ValueError(f"{SKTIME_WHEEL}: sha256 {actual} does not match the expected {SKTIME_SHA256}")
    return target


def parse_ts(text: str) -> tuple[list[np.ndarray], list[str]]:
    """The series (each ``(frames, channels)`` float32) and labels of a UEA/UCR ``.ts`` file."""
    series, labels, data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not data:
            data = line.lower().startswith("@data")
            continue
        *channels, label = line.split(":")
        values = [np.array([float(v) for v in c.split(",")], np.float32) for c in channels]
        if len({len(v) for v in values}) != 1:
            raise ValueError("a .ts series whose channels differ in length")
        series.append(np.stack(values, axis=1))
        labels.append(label.strip())
    return series, labels


def front_padded(series: list[np.ndarray], frames: int) -> np.ndarray:
    out = np.zeros((len(series), frames, series[0].shape[1]), np.float32)
    for i, s in enumerate(series):
        out[i, frames - len(s):] = s[-frames:]
    return out


def _write_vowels(out: Path, progress: bool) -> Path:
    path = out if out.suffix == ".npz" else out / "japanese_vowels.npz"
    with zipfile.ZipFile(sktime_wheel(progress)) as wheel:
        parts = {split: parse_ts(wheel.read(VOWELS.format(split=split.upper())).decode("utf-8"))
                 for split in ("train", "test")}
    names = sorted(set(parts["train"][1]), key=int)
    arrays = {}
    for split, (series, labels) in parts.items():
        arrays[f"x_{split}"] = front_padded(series, VOWEL_FRAMES)
        arrays[f"y_{split}"] = np.array([names.index(label) for label in labels], np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, buffer.getvalue())
    return path


# --------------------------------------------------------------------------- fortunes


def deb_files(deb: Path):
    """(path, bytes) of every regular file in a ``.deb``'s data archive (an ``ar`` archive
    holding ``data.tar.*``), read in Python: no dpkg needed."""
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb}: not a Debian package")
        while len(header := f.read(60)) == 60:
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58].decode().strip())
            data = f.read(size + size % 2)[:size]
            if name.startswith("data.tar"):
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                    for member in archive.getmembers():
                        if member.isfile():
                            yield member.name.lstrip("./"), archive.extractfile(member).read()


def split_fortunes(raw: bytes) -> list[str]:
    """A fortune file's entries (separated by ``%`` lines), attribution lines dropped, whitespace
    collapsed."""
    entries = []
    for entry in re.split(r"^%\s*$", raw.decode("utf-8", errors="replace"), flags=re.M):
        text = " ".join(line for line in entry.splitlines() if not re.match(r"^\s*--\s", line))
        text = " ".join(text.split())
        if text:
            entries.append(text)
    return entries


def fortunes(language: str, progress: bool = True) -> list[str]:
    """Every distinct fortune of one language (at least :data:`MIN_CHARS` long), sorted."""
    package = FORTUNES[language]
    deb = fetch(DEBIAN + package.path, Path(package.path).name, sha256=package.sha256, progress=progress,
                hint=f"or put {Path(package.path).name} (apt-get download) into {cache_dir()}")
    found = set()
    for name, data in deb_files(deb):
        if "/games/fortunes/" not in name or name.endswith((".dat", ".u8")):
            continue
        if re.search(package.keep, name.split("/games/fortunes/", 1)[1]):
            found.update(e for e in split_fortunes(data) if len(e) >= MIN_CHARS)
    return sorted(found)


def _write_langid(out: Path, progress: bool, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    files = {}
    for language in FORTUNES:
        pool = fortunes(language, progress)
        picked = [pool[i][:MAX_CHARS] for i in rng.permutation(len(pool))[:PER_LANGUAGE]]
        n_test = int(round(len(picked) * TEST_SHARE))
        for k, text in enumerate(picked):
            split = "test" if k < n_test else "train"
            files[out / split / language / f"{k:04d}.txt"] = text.encode("utf-8")
    if out.exists():
        others = sorted(str(p) for p in out.rglob("*") if p.is_file() and p not in files)
        if others:
            raise ValueError(f"{out} holds other files ({others[0]}, ...); choose an empty or new folder")
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_all(files)
    return out
