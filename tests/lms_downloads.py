"""Submissions as instructors get them: LMS downloads and nbgrader folders, laid out as files or zips.

Each layout is a dict {relative path: bytes}; `lay_out` writes one under a folder and `zip_of`
packs one into a .zip, either as Python writes zips or as Linux's `zip` (Info-ZIP) does: UTF-8
names without the flag bit that says they are UTF-8.
"""

import json
import zipfile

NOTEBOOKS = ["1_rnn_cell_forward", "2_rnn_forward", "3_rnn_backward", "4_lstm"]
ASSIGNMENT = "rnn_step_by_step"


def notebook(tag):
    """A small notebook whose bytes differ with `tag` (each version of a file is told apart)."""
    return json.dumps({"cells": [{"cell_type": "code", "source": f"# {tag}", "metadata": {}, "outputs": [],
                                  "execution_count": None}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def lay_out(folder, files):
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


class _InfoZipName(zipfile.ZipInfo):
    """A member named in UTF-8 without the UTF-8 flag bit, as Info-ZIP's `zip` writes it on Linux."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("utf-8"), self.flag_bits & ~0x800


class _Cp437Name(zipfile.ZipInfo):
    """A member named in cp437, without the flag bit (old Windows tools)."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("cp437"), self.flag_bits & ~0x800


def zip_of(path, files, names="python"):
    """`files` packed into the zip `path`; names: "python", "info-zip" or "cp437"."""
    member = {"python": zipfile.ZipInfo, "info-zip": _InfoZipName, "cp437": _Cp437Name}[names]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(member(name, date_time=(2026, 11, 20, 17, 0, 0)), data)
    return path


def zip_bytes(tmp_path, files, name="upload.zip"):
    return zip_of(tmp_path / name, files).read_bytes()


def canvas(tmp_path):
    """A Canvas "Download Submissions" of four students, with resubmissions, a late one, a
    browser duplicate and a zip upload."""
    chen_first = zip_bytes(tmp_path, {"rnn_step_by_step/1_rnn_cell_forward.ipynb": notebook("chen 1 first"),
                                      "rnn_step_by_step/4_lstm.ipynb": notebook("chen 4")}, "first.zip")
    chen_again = zip_bytes(tmp_path, {"rnn_step_by_step/1_rnn_cell_forward.ipynb": notebook("chen 1 again"),
                                      "__MACOSX/rnn_step_by_step/._1_rnn_cell_forward.ipynb": b"\0\5\26\7"},
                           "again.zip")
    return {
        "leebruce_12345_67890_1_rnn_cell_forward.ipynb": notebook("lee 1 first"),
        "leebruce_LATE_12345_67899_1_rnn_cell_forward-1.ipynb": notebook("lee 1 late"),
        "leebruce_12345_67891_2_rnn_forward.ipynb": notebook("lee 2"),
        "leebruce_12345_67891_2_rnn_forward (1).ipynb": notebook("lee 2"),
        "o'neillpat_12346_67892_1_rnn_cell_forward.ipynb": notebook("pat 1"),
        "o'neillpat_12346_67893_rnn_forward.ipynb": notebook("pat 2"),
        "müllerjürgen_12347_67894_3_rnn_backward.ipynb": notebook("jürgen 3"),
        "müllerjürgen_12347_67894_notes.pdf": b"%PDF-1.4",
        "chenwei_12348_67895_submission.zip": chen_first,
        "chenwei_LATE_12348_67896_submission.zip": chen_again,
    }


def moodle(tmp_path):
    """A Moodle "Download all submissions" with one folder per student and plugin."""
    return {
        "Jane Doe_101_assignsubmission_file_/1_rnn_cell_forward.ipynb": notebook("jane 1"),
        "Jane Doe_101_assignsubmission_file_/2_rnn_forward.ipynb": notebook("jane 2"),
        "Jane Doe_101_assignsubmission_onlinetext_/onlinetext.html": b"<p>done</p>",
        "José Núñez_102_assignsubmission_file_/submission.zip": zip_bytes(
            tmp_path, {"3_rnn_backward.ipynb": notebook("josé 3")}),
    }


def blackboard():
    """A Blackboard "Download Assignment": one file per submitted file per attempt, and a receipt."""
    return {
        "RNN Homework_jdoe_attempt_2026-11-20-17-00-00_1_rnn_cell_forward.ipynb": notebook("jdoe 1 first"),
        "RNN Homework_jdoe_attempt_2026-11-21-09-30-00_1_rnn_cell_forward.ipynb": notebook("jdoe 1 second"),
        "RNN Homework_jdoe_attempt_2026-11-20-17-00-00.txt": b"Name: J Doe\nSubmission Field:\n",
        "RNN Homework_asmith_attempt_2026-11-20-18-00-00_2_rnn_forward.ipynb": notebook("asmith 2"),
    }


def nbgrader_submitted():
    """nbgrader's submitted/ as a class leaves it: odd names, a wrong folder, litter."""
    return {
        "alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": notebook("alice 1"),
        "alice/rnn_step_by_step/timestamp.txt": b"2026-11-20 17:00:00 UTC",
        "John Smith/rnn_step_by_step/2_rnn_forward.ipynb": notebook("john 2"),
        "bob/hw_rnn/3_rnn_backward.ipynb": notebook("bob 3"),
        "carol/rnn_step_by_step/1_rnn_cell_forward.ipynb": notebook("carol 1 first"),
        "carol/rnn_step_by_step/1_rnn_cell_forward (1).ipynb": notebook("carol 1 again"),
        "dave/rnn_step_by_step/4_lstm.ipynb": notebook("dave 4"),
        "dave/rnn_step_by_step/images/plot.png": b"\x89PNG",
        "dave/rnn_step_by_step/scratch.ipynb": notebook("dave scratch"),
        "dave/rnn_step_by_step/.ipynb_checkpoints/4_lstm-checkpoint.ipynb": notebook("dave 4 old"),
        "dave/other_homework/hw1.ipynb": notebook("dave hw1"),
        ".DS_Store": b"\0\0\0\1Bud1",
    }


def release_like(prefix, extra=None):
    """What the course's release/ or source/ holds for the assignment, under `prefix`."""
    files = {f"{prefix}{ASSIGNMENT}/{name}.ipynb": notebook(name) for name in NOTEBOOKS}
    files[f"{prefix}{ASSIGNMENT}/rnn_utils.py"] = b"import numpy as np\n"
    files[f"{prefix}{ASSIGNMENT}/images/rnn.png"] = b"\x89PNG"
    files.update(extra or {})
    return files


def grader_out():
    """The grader's OUT folder after a run (python -m autograder grade SUBMISSIONS --out OUT)."""
    files = release_like("course/source/")
    files.update({
        "grades.csv": b"student_id,total\nalice,10\n",
        "results/alice.json": b"{}",
        "feedback/alice/rnn_step_by_step/1_rnn_cell_forward.html": b"<html></html>",
        "course/gradebook.db": b"SQLite format 3\0",
        "course/nbgrader_config.py": b"c = get_config()\n",
        "course/submitted/alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": notebook("alice 1"),
    })
    return files
