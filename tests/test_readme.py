"""Every number the README and docs/ quote comes from a file a pipeline run wrote: the committed reports/, or, for a
section about an earlier run, the reports/ of the commit it names. A stale or invented figure fails here."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from helpers import REPO

from gandct import photos
from gandct.report_markdown import split_table

# 0.844, +0.055, -0.014, 2.68 (of "2.68x"); not 2090, 15%, or a version such as 0.2.2
DECIMAL = re.compile(r"(?<![\w.])[+-]?\d+\.\d+(?!\.?\d)")
# A section about earlier runs names each commit whose reports/ it quotes, in a comment under its heading.
EARLIER_RUN = re.compile(r"<!-- numbers: reports/ at ([0-9a-f]{7,40}) -->")
# Numbers no pipeline file holds: the Python version, `make test`'s times measured by hand up to the bracket that
# says so (pytest's own summary line; a test run writes nothing into the repository), and arXiv identifiers.
BY_HAND = re.compile(r"Python 3\.11|`make test` ran [^()]*\([^)]*\)|arXiv \d+\.\d+")
DOCS = ["README.md", *sorted(path.relative_to(REPO).as_posix() for path in (REPO / "docs").glob("*.md"))]


def sections(text: str) -> Iterator[tuple[str, str]]:
    """(heading, text) of each second-level section of a Markdown file; the part before the first is "preamble"."""
    for part in re.split(r"\n(?=## )", text):
        yield (part.splitlines()[0] if part.startswith("## ") else "preamble"), part


def section(text: str, heading: str) -> str:
    """The text of a Markdown file's `## <heading>` section, up to the next second-level heading."""
    return dict(sections(text))[f"## {heading}"]


def json_numbers(value: object) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_numbers(item)


def file_numbers(name: str, text: str) -> set[float]:
    """The numbers of a JSON file, or the decimals of a text one (report.md, a bench table)."""
    return set(json_numbers(json.loads(text))) if name.endswith(".json") else {float(x) for x in DECIMAL.findall(text)}


def holds_numbers(name: str) -> bool:
    """Whether a file under reports/ (a path from the repository root) is one whose numbers the docs may quote: the
    JSON and Markdown outputs of `dvc repro` and the commands that write there, and `make bench`'s tables."""
    return name.endswith((".json", ".md")) or (name.startswith("reports/bench/") and name.endswith(".txt"))


@cache
def reported_numbers(reports: Path) -> frozenset[float]:
    """Every number of the files under `reports/` that `holds_numbers` names."""
    found: set[float] = set()
    for path in reports.rglob("*"):
        if path.is_file() and holds_numbers(path.relative_to(reports.parent).as_posix()):
            found |= file_numbers(path.name, path.read_text())
    return frozenset(found)


@cache
def numbers_at(commit: str) -> frozenset[float]:
    """Every number of the files under reports/ at `commit` that `holds_numbers` names (read from git's history)."""
    git = ["git", "-C", str(REPO)]
    if subprocess.run([*git, "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True).returncode:
        shallow = subprocess.run([*git, "rev-parse", "--is-shallow-repository"], capture_output=True, text=True)
        if shallow.stdout.strip() == "true":
            pytest.skip(f"a shallow clone lacks commit {commit}, which a docs section quotes")
        raise AssertionError(f"a docs section quotes commit {commit}, which this repository does not hold")
    listed = subprocess.run([*git, "ls-tree", "-r", "--name-only", commit, "reports/"], capture_output=True, text=True)
    found: set[float] = set()
    for name in listed.stdout.split():
        if holds_numbers(name):
            text = subprocess.run([*git, "show", f"{commit}:{name}"], capture_output=True, text=True, check=True).stdout
            found |= file_numbers(name, text)
    return frozenset(found)


def missing_numbers(results: str, reported: set[float] | frozenset[float]) -> list[str]:
    """The decimals of `results` that no reported number rounds to, at the decimals the text gives."""
    missing = []
    for text in DECIMAL.findall(results):
        value, decimals = float(text), len(text.split(".")[1])
        if not any(round(number, decimals) == round(value, decimals) for number in reported):
            missing.append(text)
    return missing


@pytest.mark.parametrize("doc", DOCS)
def test_every_number_in_the_docs_comes_from_a_run(doc: str):
    reported = reported_numbers(REPO / "reports")
    stale = {}
    for heading, text in sections((REPO / doc).read_text()):
        earlier = [numbers_at(commit) for commit in EARLIER_RUN.findall(text)]
        missing = missing_numbers(BY_HAND.sub("", text), reported.union(*earlier))
        if missing:
            stale[heading] = missing
    assert not stale, f"{doc} quotes numbers that no run's reports/ hold, by section: {stale}"


@pytest.mark.parametrize(
    ("doc", "heading", "least"),
    [("README.md", "Results", 20), ("docs/results.md", None, 40), ("docs/model_card.md", None, 30)],
)
def test_the_results_pages_quote_the_run(doc: str, heading: str | None, least: int):
    """The pages that exist to report the run keep quoting it (the test above checks what they quote)."""
    text = (REPO / doc).read_text()
    assert len(DECIMAL.findall(section(text, heading) if heading else text)) >= least


def test_a_stale_or_invented_number_is_caught():
    reported = {0.8437, -0.0512, 2.6849}
    assert missing_numbers("AUC 0.844, custom - paper -0.051, SWD 2.68x", reported) == []
    assert missing_numbers("AUC 0.845, custom - paper +0.051, SWD 2.7x", reported) == ["0.845", "+0.051"]
    assert missing_numbers("sporco 0.2.2.post1, TensorFlow 2.16.1", reported) == []  # versions are no results


def test_a_section_naming_a_commit_is_checked_against_that_commits_reports():
    with pytest.raises(AssertionError, match="does not hold"):
        numbers_at("0" * 40)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert 0.5 in numbers_at(head.strip())  # the committed params.yaml's numbers reach report.md and the JSON files


def test_the_recipe_table_quotes_the_recipe_summary():
    detectors = (REPO / "docs/detectors.md").read_text()
    start = detectors.index("## Choosing custom's training recipe")
    section = detectors[start : detectors.index("\n## ", start + 1)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| recipe")]
    summary = json.loads((REPO / "reports/recipes/summary.json").read_text())
    assert [row.split("|")[1].strip() for row in rows] == [entry["recipe"] for entry in summary]
    missing = missing_numbers("\n".join(rows), set(json_numbers(summary)))
    assert not missing, f"docs/detectors.md's recipe table quotes numbers reports/recipes/summary.json lacks: {missing}"


def test_the_data_doc_lists_every_bundled_photo_and_quotes_each_runs_splits():
    text = (REPO / "docs/data.md").read_text()
    catalogue = {
        row.split("|")[4].strip(" `"): [cell.strip() for cell in row.split("|")[1:-1]]
        for row in text.splitlines()
        if row.startswith("| ") and "`" in row
    }
    assert set(catalogue) == {photo.origin for photo in photos.SAMPLE_PHOTOS}
    for photo in photos.SAMPLE_PHOTOS:
        group, stratum, _, _, encoding, _ = catalogue[photo.origin]
        assert (group, stratum, encoding) == (photo.group, photo.stratum, photos.origin_format(photo.origin).upper())
    for data in (REPO / "reports/data.json", REPO / "reports/replicate/seed_7/data.json"):
        assert split_table(json.loads(data.read_text())) in text, f"docs/data.md does not quote {data}"
