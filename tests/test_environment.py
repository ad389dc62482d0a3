"""environment.yml (conda-forge) names the same packages and versions as requirements.txt, and the pins install
on every Python from the Makefile's floor to the newest CPython with wheels for all of them."""

import re
import subprocess
import sys

import pytest
import yaml

from tests.helpers import ROOT


def pins():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {name.lower(): version for name, version in (line.split("==") for line in lines if "==" in line)}


def test_environment_yml_agrees_with_the_pip_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = dict(re.fullmatch(r"([\w.-]+)=(.+)", dep).groups() for dep in env["dependencies"] if isinstance(dep, str))
    python = conda.pop("python")
    assert python.startswith("3.") and int(python.split(".")[1]) >= 11
    pip = pins()
    wrong = {name: (version, pip.get(name)) for name, version in conda.items() if pip.get(name) != version}
    assert not wrong, f"environment.yml and requirements.txt disagree: {wrong}"
    direct = {line.strip().lower() for line in (ROOT / "requirements.in").read_text().splitlines() if line.strip()}
    assert direct == set(conda), "environment.yml must name every direct dependency of requirements.in"


def test_requirements_are_all_pinned():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines and all(re.fullmatch(r"[\w.\-\[\]]+==[\w.+!-]+", line) for line in lines)


# The floor is the lowest Python the Makefile accepts (Debian 12's python3 is 3.11.2). The newest is the last CPython
# with wheels for every pin: 3.15's numpy (2.5) and contourpy (1.4) need Python 3.12+, so no one pin fits 3.11 and 3.15.
FLOOR, NEWEST = "3.11.0", "3.14"


@pytest.mark.parametrize("python", [FLOOR, NEWEST])
def test_the_pins_resolve_on_the_lowest_and_the_newest_python(python, tmp_path):
    """pip's resolver picks requirements.txt from the registries as that Python would, installing nothing: a pin
    whose Requires-Python or wheels leave it out (soupsieve 4.1.3 needs 3.11.5) fails, and so does a yanked one."""
    # --target only because pip 23 (Debian 12's and .venv's) takes --python-version with it alone; nothing is written.
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                          "--only-binary=:all:", "--python-version", python, "--target", str(tmp_path / "target"),
                          "--disable-pip-version-check", "-r", str(ROOT / "requirements.txt")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"requirements.txt does not resolve for Python {python}:\n{run.stderr[-3000:]}"
    yanked = [line for line in run.stderr.splitlines() if "is a yanked version" in line]
    assert not yanked, "\n".join(yanked)


def test_the_makefile_asks_for_the_python_the_pins_need():
    floor = tuple(int(part) for part in FLOOR.split("."))
    assert f"sys.version_info < {floor}" in (ROOT / "Makefile").read_text()


def test_the_longest_test_modules_still_run_first():
    """conftest.LONGEST_FIRST names files: a module renamed or removed would silently fall back to
    xdist's order (collection order, since `make test` turns xdist's reordering off)."""
    import conftest
    assert all((ROOT / path).is_file() for path in conftest.LONGEST_FIRST), conftest.LONGEST_FIRST
    assert "--no-loadscope-reorder" in (ROOT / "Makefile").read_text()
