"""tests/fixtures/class/ is exactly what `python -m autograder sample-class` writes (`make fixtures`)."""

import filecmp

from autograder import sample
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "class"


def test_fixture_class_is_fresh(tmp_path):
    sample.write_class(tmp_path)
    ours = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert ours == fresh
    stale = [str(p) for p in ours if not filecmp.cmp(FIXTURES / p, tmp_path / p, shallow=False)]
    assert not stale, f"tests/fixtures/class is stale, run `make fixtures`: {stale}"


def test_hostile_corpus_is_fresh(tmp_path):
    from tests import hostile
    hostile.write(tmp_path)
    corpus = ROOT / "tests" / "fixtures" / "hostile"
    ours = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
    assert ours == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    stale = [str(p) for p in ours if not filecmp.cmp(corpus / p, tmp_path / p, shallow=False)]
    assert not stale, f"tests/fixtures/hostile is stale, run `make fixtures`: {stale}"


def test_complete_student_holds_the_solutions_and_blank_the_stubs(tmp_path):
    sample.write_class(tmp_path)
    complete = (tmp_path / "s01_complete/rnn_step_by_step/3_rnn_backward.ipynb").read_text()
    blank = (tmp_path / "s02_blank/rnn_step_by_step/3_rnn_backward.ipynb").read_text()
    assert "NotImplementedError()" not in complete and "BEGIN SOLUTION" not in complete
    assert "for t in reversed(range(T_x)):" in complete and "for t in reversed(range(T_x)):" not in blank
