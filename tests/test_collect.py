"""collect: the layouts SUBMISSIONS may come in, and clear errors for what cannot be read."""

import zipfile

import pytest

from autograder import collect

NOTEBOOKS = ["1_rnn_cell_forward", "2_rnn_forward", "3_rnn_backward"]


def make(path, files):
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)


def test_nbgrader_layout_with_timestamp(tmp_path):
    make(tmp_path, {"alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}",
                    "alice/rnn_step_by_step/timestamp.txt": b"2026-11-20 17:00:00 UTC",
                    "bob/rnn_step_by_step/2_rnn_forward.ipynb": b"{}",
                    "bob/rnn_step_by_step/.ipynb_checkpoints/2_rnn_forward-checkpoint.ipynb": b"{}"})
    alice, bob = collect.collect(tmp_path, "rnn_step_by_step", NOTEBOOKS)
    assert (alice.student_id, alice.timestamp, set(alice.files)) == ("alice", "2026-11-20 17:00:00 UTC",
                                                                     {"1_rnn_cell_forward.ipynb"})
    assert set(bob.files) == {"2_rnn_forward.ipynb"} and bob.timestamp is None


def test_zip_with_a_top_folder_and_no_assignment_level(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("export/carol/1_rnn_cell_forward.ipynb", "{}")
        z.writestr("__MACOSX/export/._carol", "")
    [carol] = collect.collect(archive, "rnn_step_by_step", NOTEBOOKS)
    assert carol.student_id == "carol" and set(carol.files) == {"1_rnn_cell_forward.ipynb"}


def test_flat_lms_download(tmp_path):
    make(tmp_path, {"dave_12345_67890_1_rnn_cell_forward.ipynb": b"1",
                    "dave_12345_67890_3_rnn_backward-2.ipynb": b"3",
                    "erin_2_rnn_forward.ipynb": b"2"})
    dave, erin = collect.collect(tmp_path, "rnn_step_by_step", NOTEBOOKS)
    assert dave.files == {"1_rnn_cell_forward.ipynb": b"1", "3_rnn_backward.ipynb": b"3"}
    assert erin.files == {"2_rnn_forward.ipynb": b"2"}


def test_bad_timestamp_is_noted_not_fatal(tmp_path):
    make(tmp_path, {"f/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}",
                    "f/rnn_step_by_step/timestamp.txt": b"yesterday-ish"})
    [f] = collect.collect(tmp_path, "rnn_step_by_step", NOTEBOOKS)
    assert f.timestamp is None and "timestamp.txt ignored" in f.notes[0]


def test_digest_changes_with_content(tmp_path):
    a = collect.Submission("a", {"x.ipynb": b"1"})
    assert a.digest() == collect.Submission("a", {"x.ipynb": b"1"}).digest()
    assert a.digest() != collect.Submission("a", {"x.ipynb": b"2"}).digest()


def text_file(folder):
    (folder / "notes.txt").write_text("hi")
    return folder / "notes.txt"


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "nowhere", "does not exist"),
    (lambda p: p, "no submissions found"),
    (text_file, "neither a folder nor a .zip"),
])
def test_unreadable_submissions_say_what_to_fix(tmp_path, setup, message):
    with pytest.raises(collect.CollectError, match=message):
        collect.collect(setup(tmp_path), "rnn_step_by_step", NOTEBOOKS)
