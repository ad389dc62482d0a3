"""collect: the layouts SUBMISSIONS may come in, every file in it accounted for, and clear errors
for what cannot be read or is not a class's submissions."""

import csv
import os
import struct
import zipfile

import pytest

from autograder import collect
from tests.helpers import RNN
from tests.lms_downloads import (ASSIGNMENT, NOTEBOOKS, blackboard, canvas, grader_out, lay_out, moodle,
                                 nbgrader_submitted, notebook, release_like, zip_bytes, zip_of)


def make(path, files):
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)


def run(path):
    return collect.collect(path, ASSIGNMENT, NOTEBOOKS)


def by_path(collection):
    return {entry.path: entry for entry in collection.entries}


def assert_accounted(collection, paths):
    """Each file found once in the entries, either used by one student or set aside with a reason,
    and the submissions made of exactly the files used."""
    assert sorted(entry.path for entry in collection.entries) == sorted(paths)
    students = {s.student_id: s for s in collection.submissions}
    used = {}
    for entry in collection.entries:
        assert bool(entry.used_as) != bool(entry.reason), entry
        if entry.used_as:
            assert entry.student_id in students, entry
            used.setdefault(entry.student_id, set()).add(entry.used_as)
    for student_id, submission in students.items():
        assert set(submission.files) | ({"timestamp.txt"} if submission.timestamp else set()) \
            == used.get(student_id, set())
        assert {path for path, _ in submission.set_aside} == {
            e.path for e in collection.entries if e.student_id == student_id and e.reason}


# nbgrader's own layouts

def test_nbgrader_layout_with_timestamp(tmp_path):
    make(tmp_path, {"alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}",
                    "alice/rnn_step_by_step/timestamp.txt": b"2026-11-20 17:00:00 UTC",
                    "bob/rnn_step_by_step/2_rnn_forward.ipynb": b"{}",
                    "bob/rnn_step_by_step/.ipynb_checkpoints/2_rnn_forward-checkpoint.ipynb": b"{}"})
    alice, bob = run(tmp_path)
    assert (alice.student_id, alice.timestamp, set(alice.files)) == ("alice", "2026-11-20 17:00:00 UTC",
                                                                     {"1_rnn_cell_forward.ipynb"})
    assert set(bob.files) == {"2_rnn_forward.ipynb"} and bob.timestamp is None


def test_nbgrader_submitted_as_a_class_leaves_it(tmp_path):
    files = nbgrader_submitted()
    lay_out(tmp_path, files)
    os.symlink("/etc", tmp_path / "eve")
    os.symlink("/etc/passwd", tmp_path / "alice" / "rnn_step_by_step" / "2_rnn_forward.ipynb")
    collection = run(tmp_path)
    assert_accounted(collection, list(files) + ["eve", "alice/rnn_step_by_step/2_rnn_forward.ipynb"])
    students = {s.student_id: s for s in collection.submissions}
    assert sorted(students) == ["John_Smith", "alice", "bob", "carol", "dave"]
    assert students["John_Smith"].submitted_as == "John Smith"
    assert students["bob"].files == {"3_rnn_backward.ipynb": notebook("bob 3")}
    assert "graded bob/hw_rnn/ (nbgrader expects bob/rnn_step_by_step/)" in students["bob"].notes
    assert students["carol"].files == {"1_rnn_cell_forward.ipynb": notebook("carol 1 again")}
    assert set(students["dave"].files) == {"4_lstm.ipynb", "images/plot.png"}
    entries = by_path(collection)
    assert entries["carol/rnn_step_by_step/1_rnn_cell_forward.ipynb"].reason == \
        "superseded by a later resubmission (carol/rnn_step_by_step/1_rnn_cell_forward (1).ipynb)"
    assert entries["carol/rnn_step_by_step/1_rnn_cell_forward (1).ipynb"].used_as == "1_rnn_cell_forward.ipynb"
    assert entries["dave/rnn_step_by_step/scratch.ipynb"].reason == "not a notebook of this assignment"
    assert entries["dave/rnn_step_by_step/.ipynb_checkpoints/4_lstm-checkpoint.ipynb"].reason \
        == "a Jupyter checkpoint copy"
    assert entries["dave/other_homework/hw1.ipynb"].reason.startswith("outside the student's assignment folder")
    assert entries["dave/other_homework/hw1.ipynb"].student_id == "dave"
    assert entries[".DS_Store"].reason == "macOS metadata"
    assert entries["eve"].reason == entries["alice/rnn_step_by_step/2_rnn_forward.ipynb"].reason \
        == "a symbolic link"
    assert "2_rnn_forward.ipynb" not in students["alice"].files


def test_odd_student_folders_are_graded_not_dropped(tmp_path):
    make(tmp_path, {"John Smith/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"john",
                    "bob/hw_rnn/1_rnn_cell_forward.ipynb": b"bob"})
    john, bob = run(tmp_path)   # sorted by id: upper case first
    assert (bob.student_id, bob.files) == ("bob", {"1_rnn_cell_forward.ipynb": b"bob"})
    assert (john.student_id, john.files) == ("John_Smith", {"1_rnn_cell_forward.ipynb": b"john"})


def test_zip_with_a_top_folder_and_no_assignment_level(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("export/carol/1_rnn_cell_forward.ipynb", "{}")
        z.writestr("__MACOSX/export/._carol", "")
    collection = run(archive)
    [carol] = collection
    assert carol.student_id == "carol" and set(carol.files) == {"1_rnn_cell_forward.ipynb"}
    assert by_path(collection)["download.zip!__MACOSX/export/._carol"].reason == "macOS metadata"


def test_a_class_of_one_is_not_taken_for_a_wrapping_folder(tmp_path):
    make(tmp_path, {"submitted/alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}"})
    [alice] = run(tmp_path / "submitted")
    assert alice.student_id == "alice"


def test_bad_timestamp_is_noted_not_fatal(tmp_path):
    make(tmp_path, {"f/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}",
                    "f/rnn_step_by_step/timestamp.txt": b"yesterday-ish"})
    collection = run(tmp_path)
    [f] = collection
    assert f.timestamp is None and "timestamp.txt ignored" in f.notes[0]
    assert by_path(collection)["f/rnn_step_by_step/timestamp.txt"].reason == "a timestamp.txt that is not a date"


def test_a_student_with_another_assignment_only_is_not_graded(tmp_path):
    make(tmp_path, {"alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}", "zoe/hw1/intro.ipynb": b"{}"})
    collection = run(tmp_path)
    assert [s.student_id for s in collection] == ["alice"]
    entry = by_path(collection)["zoe/hw1/intro.ipynb"]
    assert (entry.student_id, entry.submitted_as) == ("", "zoe")
    assert entry.reason == "outside the student's assignment folder (zoe/rnn_step_by_step/)"


# LMS downloads

def test_flat_lms_download(tmp_path):
    make(tmp_path, {"dave_12345_67890_1_rnn_cell_forward.ipynb": b"1",
                    "dave_12345_67890_3_rnn_backward-2.ipynb": b"3",
                    "erin_2_rnn_forward.ipynb": b"2"})
    dave, erin = run(tmp_path)
    assert dave.files == {"1_rnn_cell_forward.ipynb": b"1", "3_rnn_backward.ipynb": b"3"}
    assert (dave.lms_user_id, erin.lms_user_id) == ("12345", None)
    assert erin.files == {"2_rnn_forward.ipynb": b"2"}


def test_canvas_browser_duplicate_and_apostrophe_are_collected(tmp_path):
    make(tmp_path, {"leebruce_LATE_12345_67890_1_rnn_cell_forward (1).ipynb": b"lee",
                    "o'neillpat_12346_67891_1_rnn_cell_forward.ipynb": b"pat"})
    lee, pat = run(tmp_path)
    assert (lee.student_id, lee.files) == ("leebruce", {"1_rnn_cell_forward.ipynb": b"lee"})
    assert (pat.student_id, pat.submitted_as, pat.files) == ("o_neillpat", "o'neillpat",
                                                             {"1_rnn_cell_forward.ipynb": b"pat"})


def test_canvas_download(tmp_path):
    files = canvas(tmp_path)
    lay_out(tmp_path / "download", files)
    collection = run(tmp_path / "download")
    paths = [p for p in files if not p.endswith(".zip")] + [
        "chenwei_12348_67895_submission.zip!rnn_step_by_step/1_rnn_cell_forward.ipynb",
        "chenwei_12348_67895_submission.zip!rnn_step_by_step/4_lstm.ipynb",
        "chenwei_LATE_12348_67896_submission.zip!rnn_step_by_step/1_rnn_cell_forward.ipynb",
        "chenwei_LATE_12348_67896_submission.zip!__MACOSX/rnn_step_by_step/._1_rnn_cell_forward.ipynb"]
    assert_accounted(collection, paths)
    students = {s.student_id: s for s in collection.submissions}
    assert sorted(students) == ["chenwei", "leebruce", "mullerjurgen", "o_neillpat"]
    lee = students["leebruce"]
    assert (lee.submitted_as, lee.lms_user_id) == ("leebruce", "12345")
    assert lee.files == {"1_rnn_cell_forward.ipynb": notebook("lee 1 late"), "2_rnn_forward.ipynb": notebook("lee 2")}
    assert students["o_neillpat"].files == {"1_rnn_cell_forward.ipynb": notebook("pat 1"),
                                            "2_rnn_forward.ipynb": notebook("pat 2")}
    assert students["mullerjurgen"].submitted_as == "müllerjürgen"
    assert students["chenwei"].files == {"1_rnn_cell_forward.ipynb": notebook("chen 1 again"),
                                         "4_lstm.ipynb": notebook("chen 4")}
    entries = by_path(collection)
    assert entries["leebruce_12345_67890_1_rnn_cell_forward.ipynb"].reason == \
        "superseded by a later resubmission (leebruce_LATE_12345_67899_1_rnn_cell_forward-1.ipynb)"
    assert entries["leebruce_12345_67891_2_rnn_forward.ipynb"].reason == \
        "duplicate of a file used (leebruce_12345_67891_2_rnn_forward (1).ipynb)"
    assert entries["müllerjürgen_12347_67894_notes.pdf"].reason == "not a notebook of this assignment"
    assert entries["müllerjürgen_12347_67894_notes.pdf"].student_id == "mullerjurgen"
    assert entries["chenwei_12348_67895_submission.zip!rnn_step_by_step/1_rnn_cell_forward.ipynb"].reason == (
        "superseded by a later resubmission "
        "(chenwei_LATE_12348_67896_submission.zip!rnn_step_by_step/1_rnn_cell_forward.ipynb)")
    assert lee.set_aside == [("leebruce_12345_67890_1_rnn_cell_forward.ipynb",
                              entries["leebruce_12345_67890_1_rnn_cell_forward.ipynb"].reason),
                             ("leebruce_12345_67891_2_rnn_forward.ipynb",
                              entries["leebruce_12345_67891_2_rnn_forward.ipynb"].reason)]
    assert collection.counts() == {"used": 7, "superseded by a later resubmission": 2, "duplicate of a file used": 1,
                                   "not a notebook of this assignment": 1, "macOS metadata": 1}
    assert collection.summary() == ("12 files: 7 graded, 2 superseded by a later resubmission, "
                                    "1 duplicate of a file used, 1 macOS metadata, 1 not a notebook of this assignment")


def test_canvas_zip_with_a_top_folder_is_the_class_not_a_student(tmp_path):
    files = {f"submissions/{name}": data for name, data in canvas(tmp_path).items()}
    collection = run(zip_of(tmp_path / "submissions.zip", files))
    assert sorted(s.student_id for s in collection) == ["chenwei", "leebruce", "mullerjurgen", "o_neillpat"]
    assert sum(len(s.files) for s in collection) == 7


def test_moodle_download(tmp_path):
    files = moodle(tmp_path)
    collection = run(zip_of(tmp_path / "moodle.zip", files))
    paths = [f"moodle.zip!{name}" for name in files if not name.endswith(".zip")]
    paths.append("moodle.zip!José Núñez_102_assignsubmission_file_/submission.zip!3_rnn_backward.ipynb")
    assert_accounted(collection, paths)
    jane, jose = collection
    assert (jane.student_id, jane.submitted_as, jane.lms_user_id) == ("Jane_Doe", "Jane Doe", "101")
    assert set(jane.files) == {"1_rnn_cell_forward.ipynb", "2_rnn_forward.ipynb"}
    assert (jose.student_id, jose.submitted_as) == ("Jose_Nunez", "José Núñez")
    assert jose.files == {"3_rnn_backward.ipynb": notebook("josé 3")}
    assert jane.set_aside == [("moodle.zip!Jane Doe_101_assignsubmission_onlinetext_/onlinetext.html",
                               "not a notebook of this assignment")]


def test_moodle_download_without_folders(tmp_path):
    make(tmp_path, {"Jane Doe_101_assignsubmission_file_1_rnn_cell_forward.ipynb": b"1",
                    "Jane Doe_101_assignsubmission_file_2_rnn_forward (1).ipynb": b"2"})
    [jane] = run(tmp_path)
    assert (jane.student_id, jane.lms_user_id, jane.files) == (
        "Jane_Doe", "101", {"1_rnn_cell_forward.ipynb": b"1", "2_rnn_forward.ipynb": b"2"})


def test_blackboard_download_latest_attempt_wins(tmp_path):
    files = blackboard()
    lay_out(tmp_path, files)
    collection = run(tmp_path)
    assert_accounted(collection, files)
    asmith, jdoe = collection
    assert jdoe.files == {"1_rnn_cell_forward.ipynb": notebook("jdoe 1 second")}
    assert asmith.files == {"2_rnn_forward.ipynb": notebook("asmith 2")}
    entries = by_path(collection)
    assert entries["RNN Homework_jdoe_attempt_2026-11-20-17-00-00_1_rnn_cell_forward.ipynb"].reason.startswith(
        "superseded by a later resubmission (RNN Homework_jdoe_attempt_2026-11-21-09-30-00_")
    assert entries["RNN Homework_jdoe_attempt_2026-11-20-17-00-00.txt"].reason == "not a notebook of this assignment"


def test_notebook_names_as_browsers_and_students_spell_them(tmp_path):
    make(tmp_path, {"amy_1_rnn_cell_forward.ipynb": b"a1", "amy_1_rnn_cell_forward (2).ipynb": b"a1 (2)",
                    "amy_1_rnn_cell_forward (1).ipynb": b"a1 (1)", "amy_3_rnn_backward-1.ipynb": b"a3-1",
                    "amy_3_rnn_backward-2.ipynb": b"a3-2", "amy_lstm.ipynb": b"a4",
                    "amy_4_lstm-Copy1.ipynb": b"copy"})
    collection = run(tmp_path)
    [amy] = collection
    assert amy.files == {"1_rnn_cell_forward.ipynb": b"a1 (2)", "3_rnn_backward.ipynb": b"a3-2",
                         "4_lstm.ipynb": b"a4"}
    assert by_path(collection)["amy_4_lstm-Copy1.ipynb"].reason == "not in a student's folder (nor named for one)"


def test_an_order_that_cannot_be_told_is_picked_the_same_way_and_said(tmp_path):
    make(tmp_path, {"gina_a_1_rnn_cell_forward.ipynb": b"a", "gina_b_1_rnn_cell_forward.ipynb": b"b"})
    collection = run(tmp_path)
    assert collection.submissions[0].files == {"1_rnn_cell_forward.ipynb": b"b"}
    assert by_path(collection)["gina_a_1_rnn_cell_forward.ipynb"].reason == (
        "superseded by the last by name (gina_b_1_rnn_cell_forward.ipynb: which was submitted later "
        "cannot be told from the names)")


def test_stray_files_are_not_a_student(tmp_path):
    make(tmp_path, {"amy_1_rnn_cell_forward.ipynb": b"a", "README.txt": b"hi", "1_rnn_cell_forward.ipynb": b"x"})
    collection = run(tmp_path)
    assert [s.student_id for s in collection] == ["amy"]
    entries = by_path(collection)
    assert entries["README.txt"].reason == entries["1_rnn_cell_forward.ipynb"].reason == \
        "not in a student's folder (nor named for one)"


# Student ids

@pytest.mark.parametrize("submitted_as, student_id", [
    ("alice", "alice"), ("a.b-c_9", "a.b-c_9"), ("John Smith", "John_Smith"), ("o'neillpat", "o_neillpat"),
    ("müllerjürgen", "mullerjurgen"), ("José Núñez", "Jose_Nunez"), (".hidden", "hidden"), ("-x", "x"),
])
def test_safe_id(submitted_as, student_id):
    assert collect.safe_id(submitted_as) == student_id


def test_two_names_for_one_safe_id_stay_two_students(tmp_path):
    make(tmp_path, {"o'neillpat/1_rnn_cell_forward.ipynb": b"1", "o_neillpat/1_rnn_cell_forward.ipynb": b"2",
                    "王伟/1_rnn_cell_forward.ipynb": b"3", "李娜/1_rnn_cell_forward.ipynb": b"4"})
    ids = {s.submitted_as: s.student_id for s in run(tmp_path)}
    assert ids["o_neillpat"] == "o_neillpat" and ids["o'neillpat"] == "o_neillpat-2"
    assert sorted([ids["王伟"], ids["李娜"]]) == ["student", "student-2"]
    assert ids == {s.submitted_as: s.student_id for s in run(tmp_path)}


# Zips

def test_info_zip_names_are_read_as_utf8(tmp_path):
    files = {"müllerjürgen/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"m",
             "zoë/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"z"}
    for names in ("info-zip", "python"):
        archive = zip_of(tmp_path / f"{names}.zip", files, names=names)
        with zipfile.ZipFile(archive) as z:
            assert bool(z.infolist()[0].flag_bits & 0x800) == (names == "python")
        collection = run(archive)
        assert [s.student_id for s in collection] == ["mullerjurgen", "zoe"]
        assert [s.submitted_as for s in collection] == ["müllerjürgen", "zoë"]


def test_cp437_names_stay_cp437(tmp_path):
    [student] = run(zip_of(tmp_path / "old.zip", {"jürgen/1_rnn_cell_forward.ipynb": b"j"}, names="cp437"))
    assert student.submitted_as == "jürgen"


def test_zip_members_are_never_extracted(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice/1_rnn_cell_forward.ipynb", "{}")
        z.writestr("alice/../../../escaped.ipynb", "{}")
        z.writestr("/abs/1_rnn_cell_forward.ipynb", "{}")
        link = zipfile.ZipInfo("alice/link.py")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
    collection = run(archive)
    entries = by_path(collection)
    assert entries["evil.zip!alice/../../../escaped.ipynb"].reason == "an unsafe path in the archive"
    assert entries["evil.zip!/abs/1_rnn_cell_forward.ipynb"].reason == "an unsafe path in the archive"
    assert entries["evil.zip!alice/link.py"].reason == "a symbolic link"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"]


class Encrypted(zipfile.ZipInfo):
    """A member flagged as encrypted (zipfile cannot encrypt; the flag is what is read first)."""

    def _encodeFilenameFlags(self):
        name, flags = super()._encodeFilenameFlags()
        return name, flags | 0x1


def test_windows_separators_and_encrypted_members(tmp_path):
    archive = tmp_path / "windows.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice\\rnn_step_by_step\\1_rnn_cell_forward.ipynb", "{}")
        z.writestr(Encrypted("alice/rnn_step_by_step/2_rnn_forward.ipynb"), "not really encrypted")
    collection = run(archive)
    [alice] = collection
    assert set(alice.files) == {"1_rnn_cell_forward.ipynb"}
    assert alice.set_aside == [("windows.zip!alice/rnn_step_by_step/2_rnn_forward.ipynb", "encrypted")]


def test_a_name_that_is_not_utf8_is_set_aside(tmp_path):
    make(tmp_path, {"amy/1_rnn_cell_forward.ipynb": b"a"})
    os.makedirs(os.fsencode(tmp_path) + b"/caf\xe9")
    with open(os.fsencode(tmp_path) + b"/caf\xe9/1_rnn_cell_forward.ipynb", "wb") as f:
        f.write(b"c")
    with open(os.fsencode(tmp_path) + b"/amy/2_rnn_forward\xff.ipynb", "wb") as f:
        f.write(b"2")
    collection = run(tmp_path)
    assert [s.student_id for s in collection] == ["amy"]
    assert [(e.path, e.student_id, e.submitted_as, e.used_as, e.reason) for e in collection.entries] == [
        ("amy/1_rnn_cell_forward.ipynb", "amy", "amy", "1_rnn_cell_forward.ipynb", ""),
        ("amy/2_rnn_forward\\xff.ipynb", "amy", "amy", "", "unreadable file name"),
        ("caf\\xe9/1_rnn_cell_forward.ipynb", "", "caf\\xe9", "", "unreadable file name")]
    collection.write_csv(tmp_path / "collection.csv")   # every name is text


def test_limits_set_files_aside_as_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "MEMBER_LIMIT", 100)
    monkeypatch.setattr(collect, "ARCHIVE_LIMIT", 250)
    archive = zip_of(tmp_path / "big.zip", {"a/1_rnn_cell_forward.ipynb": b"1" * 101,
                                            "a/2_rnn_forward.ipynb": b"2" * 100,
                                            "a/3_rnn_backward.ipynb": b"3" * 100,
                                            "a/4_lstm.ipynb": b"4" * 100})
    collection = run(archive)
    reasons = [e.reason for e in collection.entries]
    assert reasons == ["too large (over 100 bytes)", "", "", "too large (the archive holds over 250 bytes)"]
    assert set(collection.submissions[0].files) == {"2_rnn_forward.ipynb", "3_rnn_backward.ipynb"}


def test_too_many_members(tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "MEMBERS_LIMIT", 3)
    upload = zip_bytes(tmp_path, {f"{n}.ipynb": b"{}" for n in NOTEBOOKS})
    make(tmp_path / "class", {"amy_1_rnn_cell_forward.ipynb": b"a", "amy_12345_67890_work.zip": upload})
    collection = run(tmp_path / "class")
    assert by_path(collection)["amy_12345_67890_work.zip"].reason == "too large (over 3 files)"
    with pytest.raises(collect.CollectError, match="more than the 3"):
        run(zip_of(tmp_path / "many.zip", {f"s{n}/1_rnn_cell_forward.ipynb": b"{}" for n in range(4)}))


def test_a_broken_upload_is_set_aside(tmp_path):
    make(tmp_path, {"amy_12345_67890_work.zip": b"PK not really", "bo_12346_67891_1_rnn_cell_forward.ipynb": b"b"})
    collection = run(tmp_path)
    assert by_path(collection)["amy_12345_67890_work.zip"].reason.startswith("a .zip that cannot be opened")
    assert by_path(collection)["amy_12345_67890_work.zip"].submitted_as == "amy"


# Results

def test_collection_csv(tmp_path):
    lay_out(tmp_path / "class", blackboard())
    collection = run(tmp_path / "class")
    written = collection.write_csv(tmp_path)
    assert written == tmp_path / "collection.csv"
    with open(written, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path", "student_id", "submitted_as", "used_as", "reason"]
    assert [row["path"] for row in rows] == [e.path for e in collection.entries]
    assert collection.summary() == ("4 files: 2 graded, 1 not a notebook of this assignment, "
                                    "1 superseded by a later resubmission")


def test_digest_changes_with_content(tmp_path):
    a = collect.Submission("a", {"x.ipynb": b"1"})
    assert a.digest() == collect.Submission("a", {"x.ipynb": b"1"}).digest()
    assert a.digest() != collect.Submission("a", {"x.ipynb": b"2"}).digest()
    b = collect.Submission("b", {}, "2026-11-20 17:00:00 UTC")
    assert (b.submitted_as, b.lms_user_id, b.set_aside, b.notes) == ("b", None, [], [])


# What is not a class's submissions

def text_file(folder):
    (folder / "notes.txt").write_text("hi")
    return folder / "notes.txt"


def not_a_zip(folder):
    # An end-of-archive record that points at no central directory: a zip in name only.
    (folder / "class.zip").write_bytes(struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, 1, 1, 46, 0, 0))
    return folder / "class.zip"


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "nowhere", "does not exist"),
    (lambda p: p, "no submissions found"),
    (text_file, "neither a folder nor a .zip"),
    (not_a_zip, "cannot be unpacked"),
])
def test_unreadable_submissions_say_what_to_fix(tmp_path, setup, message):
    with pytest.raises(collect.CollectError, match=message):
        run(setup(tmp_path))


SUBMITTED = "pass the folder that holds one folder per student (nbgrader's submitted/) or an LMS download."
WRONG_FOLDERS = [
    ("release", "release/ is the assignment as released to students, not submissions: " + SUBMITTED),
    ("source", "source/ is the assignment's source, with its solutions, not submissions: " + SUBMITTED),
    ("release/rnn_step_by_step", "release/rnn_step_by_step/ is the assignment as released to students"),
    ("source/rnn_step_by_step", "source/rnn_step_by_step/ is the assignment's source"),
    ("submitted/alice", "alice/ is one student's folder (it holds rnn_step_by_step/), not a class's submissions: "
     + SUBMITTED),
    ("submitted/alice/rnn_step_by_step", "rnn_step_by_step/ is one assignment folder (it holds 1_rnn_cell_forward"
     ".ipynb itself)"),
    ("submitted/carol", "carol/ is one student's folder (it holds 1_rnn_cell_forward.ipynb itself)"),
    ("", "is an nbgrader course folder, not submissions: pass its submitted/ folder, which holds one folder per "
     "student, or an LMS download."),
    ("out", "out/ is the grader's output folder, not submissions: pass the folder or .zip of the students' "
     "submissions that was graded into it."),
    ("out/course", "out/course/ is the nbgrader course the grader wrote in its output folder, not submissions"),
]


@pytest.mark.parametrize("passed, message", WRONG_FOLDERS)
def test_wrong_folders_say_what_to_pass(tmp_path, passed, message):
    course = tmp_path / "course"
    lay_out(course, release_like("release/"))
    lay_out(course, release_like("source/"))
    lay_out(course, {"nbgrader_config.py": b"c = get_config()\n", "gradebook.db": b"SQLite format 3\0",
                     "submitted/alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}",
                     "submitted/alice/rnn_step_by_step/timestamp.txt": b"2026-11-20 17:00:00 UTC",
                     "submitted/carol/1_rnn_cell_forward.ipynb": b"{}"})
    lay_out(course / "out", grader_out())
    with pytest.raises(collect.CollectError) as error:
        run(course / passed)
    assert message in str(error.value)
    assert str(error.value).count(". ") == 0   # one sentence


def test_a_zipped_release_folder_is_refused_too(tmp_path):
    archive = zip_of(tmp_path / "release.zip", release_like("release/"))
    with pytest.raises(collect.CollectError, match=r"release\.zip!release/ is the assignment as released"):
        run(archive)


# A notebook under another name, known by its cells' grade ids

def test_a_renamed_notebook_is_found_by_its_cells_and_noted(tmp_path):
    """A renamed notebook 1 worked for the student and was graded 0 without a word."""
    ids = collect.cell_ids(RNN.source)
    one = (RNN.source / "1_rnn_cell_forward.ipynb").read_bytes()
    two = (RNN.source / "2_rnn_forward.ipynb").read_bytes()
    make(tmp_path, {"alice/rnn_step_by_step/my notebook.ipynb": one,
                    "alice/rnn_step_by_step/2_rnn_forward.ipynb": two,
                    "bob/rnn_step_by_step/1_rnn_cell_forward.ipynb": one,
                    "bob/rnn_step_by_step/1_rnn_cell_forward-Copy1.ipynb": one + b" ",
                    "carol/rnn_step_by_step/notes.ipynb": b"{}"})
    alice, bob = collect.collect(tmp_path, ASSIGNMENT, ids)
    assert alice.files == {"1_rnn_cell_forward.ipynb": one, "2_rnn_forward.ipynb": two}
    assert "graded my notebook.ipynb as 1_rnn_cell_forward.ipynb (its cells are that notebook's; " \
           "keep the released names)" in alice.notes
    assert bob.files == {"1_rnn_cell_forward.ipynb": one}, "the notebook under its own name wins over a copy"
    entries = by_path(collect.collect(tmp_path, ASSIGNMENT, ids))
    assert entries["bob/rnn_step_by_step/1_rnn_cell_forward-Copy1.ipynb"].reason.startswith("superseded")
    assert entries["carol/rnn_step_by_step/notes.ipynb"].reason == "not a notebook of this assignment"
    assert set(ids) >= {"1_rnn_cell_forward", "2_rnn_forward"} and "load_previous" not in ids["2_rnn_forward"]


def test_the_release_lab_handed_in_is_set_aside_quietly(tmp_path):
    """nbgrader's exchange hands in the whole folder, the lab with it: it is not a mistake."""
    make(tmp_path, {"alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}",
                    "alice/rnn_step_by_step/char_rnn_lab.ipynb": b"{}"})
    alice, = collect.collect(tmp_path, ASSIGNMENT, NOTEBOOKS, ungraded=("char_rnn_lab.ipynb",))
    assert alice.set_aside == [("alice/rnn_step_by_step/char_rnn_lab.ipynb", collect.UNGRADED)]
    assert set(alice.files) == {"1_rnn_cell_forward.ipynb"}
    from autograder import grade
    assert grade.set_aside_note(alice) is None
    alice.set_aside.append(("alice/rnn_step_by_step/notes.txt", "not a notebook of this assignment"))
    assert grade.set_aside_note(alice) == "files set aside: 1 (see collection.csv): notes.txt: not a notebook of this assignment"


def test_a_scratch_file_with_one_copied_cell_is_not_taken_for_the_notebook(tmp_path):
    """3_rnn_backward_final.ipynb (complete) and scratch.ipynb (one cell copied): scratch sorted
    first by path and was graded as notebook 3, and both were noted."""
    import json
    ids = collect.cell_ids(RNN.source)
    three = (RNN.source / "3_rnn_backward.ipynb").read_bytes()
    cells = json.loads(three)["cells"]
    one_cell = json.dumps({"cells": [c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id")
                                     == "rnn_cell_backward"], "metadata": {}, "nbformat": 4,
                           "nbformat_minor": 5}).encode()
    make(tmp_path, {"alice/rnn_step_by_step/3_rnn_backward_final.ipynb": three,
                    "alice/rnn_step_by_step/a scratch.ipynb": one_cell})
    alice, = collect.collect(tmp_path, ASSIGNMENT, ids)
    assert alice.files == {"3_rnn_backward.ipynb": three}
    assert alice.notes == ["graded 3_rnn_backward_final.ipynb as 3_rnn_backward.ipynb (its cells are that "
                           "notebook's; keep the released names)"]


def test_finding_a_notebook_by_its_cells_does_not_parse_a_hostile_file(tmp_path):
    """An 8 MiB file of empty cells cost the coordinator 200 MiB when parsed."""
    import tracemalloc
    ids = collect.cell_ids(RNN.source)
    make(tmp_path, {"alice/rnn_step_by_step/x.ipynb": b'{"cells":[' + b"{}," * (8 * 2 ** 20 // 3) + b"{}]}",
                    "alice/rnn_step_by_step/1_rnn_cell_forward.ipynb": b"{}"})
    tracemalloc.start()
    alice, = collect.collect(tmp_path, ASSIGNMENT, ids)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * 2 ** 20, peak
    assert set(alice.files) == {"1_rnn_cell_forward.ipynb"}
