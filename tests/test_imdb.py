"""lowbit.pipeline.data.imdb and lowbit.pipeline.downloads: real shared data, synthetic tarballs, hashing, errors."""

import hashlib
import io
import tarfile

import numpy as np
import pytest

from lowbit.pipeline import downloads
from lowbit.pipeline.data import imdb
from lowbit.pipeline.downloads import DataUnavailableError


def make_tarball(path, reviews):
    """reviews: {(split, polarity, id, rating): text}."""
    with tarfile.open(path, "w:gz") as tar:
        for (split, polarity, rid, rating), text in reviews.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{split}/{polarity}/{rid}_{rating}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("aclImdb/README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))


SYNTHETIC = {
    ("train", "pos", 10, 9): "Great!",
    ("train", "pos", 2, 8): "Good",
    ("train", "neg", 5, 1): "Bad<br />film",
    ("test", "neg", 0, 2): "meh",
    ("test", "pos", 3, 10): "wow \xe9",
}


def test_real_shared_tarball_has_both_full_splits(shared_data):
    data = imdb.load(shared_data)
    for split in ("train", "test"):
        assert len(data[split]) == 25_000
        assert data[split].labels.sum() == 12_500
    assert all(isinstance(t, str) and t for t in data["test"].texts[:100])


def test_synthetic_tarball_order_and_labels(tmp_path):
    make_tarball(tmp_path / imdb.TARBALL, SYNTHETIC)
    data = imdb.load(tmp_path)
    assert data["train"].texts == ["Bad<br />film", "Good", "Great!"]
    np.testing.assert_array_equal(data["train"].labels, [0, 1, 1])
    assert data["test"].texts == ["meh", "wow \xe9"]


def test_extracted_folder_of_any_name_gives_the_same(tmp_path):
    make_tarball(tmp_path / "x.tar.gz", SYNTHETIC)
    with tarfile.open(tmp_path / "x.tar.gz") as tar:
        tar.extractall(tmp_path / "out", filter="data")
    renamed = tmp_path / "my_reviews"
    (tmp_path / "out" / "aclImdb").rename(renamed)
    from_folder = imdb.load(renamed)
    from_tar = imdb.load(tmp_path / "x.tar.gz")
    assert from_folder["train"].texts == from_tar["train"].texts


def test_environment_variable_is_used(tmp_path, monkeypatch):
    make_tarball(tmp_path / imdb.TARBALL, SYNTHETIC)
    monkeypatch.setenv("LOWBIT_DATA", str(tmp_path))
    assert len(imdb.load(splits=("test",))["test"]) == 2


def test_missing_data_names_data_dir_and_expected_files(tmp_path):
    with pytest.raises(DataUnavailableError, match=r"--data-dir.*aclImdb_v1\.tar\.gz"):
        imdb.load(tmp_path)


def test_damaged_tarball_is_a_clear_error(tmp_path):
    (tmp_path / imdb.TARBALL).write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataUnavailableError, match="not a readable tarball"):
        imdb.load(tmp_path)


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="train, test"):
        imdb.load(tmp_path, splits=("validation",))


def test_fetch_downloads_checks_md5_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "remote.bin"
    source.write_bytes(b"payload" * 1000)
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    got = downloads.fetch(source.as_uri(), "file.bin", md5=md5, progress=False)
    assert got == tmp_path / "cache" / "file.bin" and got.read_bytes() == source.read_bytes()
    source.unlink()  # cached now: no second download
    assert downloads.fetch(source.as_uri(), "file.bin", md5=md5, progress=False) == got


def test_fetch_rejects_a_wrong_hash_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "remote.bin"
    source.write_bytes(b"tampered")
    with pytest.raises(ValueError, match="does not match"):
        downloads.fetch(source.as_uri(), "file.bin", md5="0" * 32, progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_offline_download_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    missing = (tmp_path / "nowhere.tar.gz").as_uri()
    with pytest.raises(DataUnavailableError, match="cannot download.*--data-dir"):
        downloads.fetch(missing, "x.tar.gz", hint=imdb.expected_files_hint(), progress=False)
