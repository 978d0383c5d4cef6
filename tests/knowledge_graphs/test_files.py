import errno
import os

import pytest

from knowledge_graphs.files import FILE_MODE, atomic_open, open_append, read_json, write_atomic


def test_a_write_replaces_the_file_whole_with_the_permissions_of_open(tmp_path):
    path = tmp_path / "sub" / "a.json"
    write_atomic(path, "one")
    write_atomic(path, b"two")
    assert path.read_text() == "two"
    assert path.stat().st_mode & 0o777 == FILE_MODE
    assert os.listdir(path.parent) == ["a.json"]  # no temporary file left


def test_a_link_at_the_destination_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    path = tmp_path / "run" / "metrics.json"
    path.parent.mkdir()
    os.symlink(outside, path)
    for name in ("metrics.json.partial", ".metrics.json.partial"):  # old and guessable names
        os.symlink(outside, path.parent / name)
    write_atomic(path, "new")
    assert outside.read_text() == "keep me"
    assert not path.is_symlink() and path.read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "a.txt"
    write_atomic(path, "old")
    with pytest.raises(RuntimeError, match="mid-write"), atomic_open(path) as f:
        f.write("half")
        raise RuntimeError("mid-write")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_a_directory_at_the_destination_and_a_full_disk_are_named(tmp_path, monkeypatch):
    with pytest.raises(IsADirectoryError) as raised:
        write_atomic(tmp_path, "x")
    assert raised.value.filename == str(tmp_path)

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as raised:
        write_atomic(tmp_path / "b.txt", "x")
    assert raised.value.filename == str(tmp_path / "b.txt")  # the file meant, not a temporary
    assert os.listdir(tmp_path) == []


def test_appending_refuses_a_link(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    os.symlink(outside, tmp_path / "log.jsonl")
    with pytest.raises(OSError, match="is a link") as raised:
        open_append(tmp_path / "log.jsonl")
    assert raised.value.errno == errno.ELOOP
    with open_append(tmp_path / "own.jsonl") as f:
        f.write("a\n")
    with open_append(tmp_path / "own.jsonl") as f:
        f.write("b\n")
    assert (tmp_path / "own.jsonl").read_text() == "a\nb\n" and outside.read_text() == "keep me"


def test_read_json_names_a_file_that_is_not_json(tmp_path):
    good = tmp_path / "good.json"
    good.write_text('{"a": [1, 2]}', encoding="utf-8")
    assert read_json(good) == {"a": [1, 2]}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.json: not JSON \(Expecting"):
        read_json(bad)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")

    class Mine(ValueError):
        pass

    with pytest.raises(Mine, match=r"binary.json: not JSON \('utf-8' codec"):
        read_json(binary, Mine)
