"""Every file, make target, command, stage and link that README.md and docs/ name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from gandct import cli

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Top-level entries a backticked path may start with; data/ and models/ are DVC outputs, not in git.
CHECKED_ROOTS = ("src/", "tests/", "docs/", "reports/", "benchmarks/", "notebooks/", ".ci/")
CHECKED_FILES = {"params.yaml", "dvc.yaml", "dvc.lock", "Makefile", "setup.py", "tox.ini", "pyproject.toml"}
PLACEHOLDER = re.compile(r"[<*{}]|\.\.\.")  # reports/train/<model>/, reports/figures/*.png: a pattern, not a file
BACKTICKED = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def doc_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def backticked(text: str) -> list[str]:
    return BACKTICKED.findall(text)


def named_paths(text: str) -> set[str]:
    """Backticked repository paths (`src/gandct/paths.py`, `reports/metrics.json`, `params.yaml`)."""
    found = set()
    for token in backticked(text):
        token = token.split("#")[0].split(":")[0].rstrip("/.,")
        repository_path = token in CHECKED_FILES or (token.startswith(CHECKED_ROOTS) and " " not in token)
        if repository_path and not PLACEHOLDER.search(token):
            found.add(token)
    return found


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    slugs = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def stage_names() -> set[str]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return set(stages)


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.M))


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_backticked_path_exists(doc):
    missing = sorted(path for path in named_paths(doc.read_text()) if not (REPO / path).exists())
    assert missing == [], f"{doc_id(doc)} names files that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_make_target_gandct_command_and_stage_named_exists(doc):
    text = doc.read_text()
    targets, stages = make_targets(), stage_names()
    problems = []
    for token in backticked(text):
        words = [*token.split(), ""]
        if words[0] == "make" and words[1][:1].isalpha() and "=" not in words[1] and words[1] not in targets:
            problems.append(f"make target {words[1]!r}")
        if words[0] == "gandct" and words[1][:1].isalpha() and words[1].rstrip(":") not in cli.COMMANDS:
            problems.append(f"gandct command {words[1]!r}")
        words = words[:-1]
        if len(words) >= 3 and words[:2] == ["dvc", "repro"]:
            for stage in words[2:]:
                if stage.startswith("-") or "<" in stage or stage[0] in ">|&2":  # an option or the shell's
                    break
                if stage.split("@")[0] not in stages:
                    problems.append(f"stage {stage!r}")
    assert problems == [], f"{doc_id(doc)}: {problems}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_relative_link_and_its_section_exist(doc):
    problems = []
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, section = target.partition("#")
        linked = (doc.parent / file_part).resolve() if file_part else doc
        if not linked.exists():
            problems.append(f"{target}: no file")
        elif section and linked.suffix == ".md" and section not in anchors(linked.read_text()):
            problems.append(f"{target}: no section")
    assert problems == [], f"{doc_id(doc)}: {problems}"


def test_the_checks_find_what_they_look_for():
    text = "See `reports/metrics.json`, `src/nowhere.py`, `reports/train/<model>/` and `make data`."
    assert named_paths(text) == {"reports/metrics.json", "src/nowhere.py"}
    assert "what-it-is" in anchors("# gandct\n\n## What it is\n")
