"""The set-up a newcomer relies on: README commands, CI entry point, pins that agree."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines):
    out = {}
    for line in lines:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==([^\s;]+)\s*", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_environment_yml_pins_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    py = _pins(project["dependencies"] + extras["test"] + extras["ray"])  # what make installs
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda = _pins([p for p in pip if not p.startswith("-")])
    assert py == conda
    assert py["torch"] == "2.14.1" and py["torchvision"] == "0.29.1"


def test_readme_opens_with_the_two_commands_and_ci_runs_make_test():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:20])
    assert "make book" in head and "make test" in head
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book:", makefile, re.MULTILINE) and re.search(r"^test:", makefile, re.MULTILINE)
