"""environment.yml (conda-forge) names the same packages and versions as requirements.txt."""

import re

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
