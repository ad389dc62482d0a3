"""tests/fixtures/class/ is exactly what `python -m autograder sample-class` writes (`make fixtures`)."""

from autograder import sample
from tests.helpers import ROOT, assert_same_tree

FIXTURES = ROOT / "tests" / "fixtures" / "class"


def test_fixture_class_is_fresh(tmp_path):
    sample.write_class(tmp_path, assignments=["rnn_step_by_step"])
    assert_same_tree(FIXTURES, tmp_path, "make fixtures")


def test_hostile_corpus_is_fresh(tmp_path):
    from tests import hostile
    hostile.write(tmp_path)
    assert_same_tree(ROOT / "tests" / "fixtures" / "hostile", tmp_path, "make fixtures")
    hostile.write_lm(tmp_path / "lm")
    assert_same_tree(ROOT / "tests" / "fixtures" / "hostile_char_language_model", tmp_path / "lm", "make fixtures")


def test_complete_student_holds_the_solutions_and_blank_the_stubs(tmp_path):
    sample.write_class(tmp_path, assignments=["rnn_step_by_step"])
    complete = (tmp_path / "s01_complete/rnn_step_by_step/3_rnn_backward.ipynb").read_text()
    blank = (tmp_path / "s02_blank/rnn_step_by_step/3_rnn_backward.ipynb").read_text()
    assert "NotImplementedError()" not in complete and "BEGIN SOLUTION" not in complete
    assert "for t in reversed(range(T_x)):" in complete and "for t in reversed(range(T_x)):" not in blank
