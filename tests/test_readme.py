"""The README's Results, docs/results.md, the model card and docs/data.md quote only numbers that the committed
reports/ hold, so a stale figure fails here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from helpers import REPO

from gandct import photos
from gandct.report_markdown import split_table

DECIMAL = re.compile(r"(?<![\w.])[+-]?\d+\.\d+")  # 0.844, +0.055, -0.014, 2.68 (of "2.68x"); not 2090 or 15%


def section(text: str, heading: str) -> str:
    """The text of a Markdown file's `## <heading>` section, up to the next second-level heading."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


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


def reported_numbers(reports: Path) -> set[float]:
    """Every number of every JSON file and of report.md under `reports/`, committed outputs of `dvc repro`."""
    found: set[float] = set()
    for path in reports.rglob("*.json"):
        found.update(json_numbers(json.loads(path.read_text())))
    for path in reports.rglob("*.md"):
        found.update(float(text) for text in DECIMAL.findall(path.read_text()))
    return found


def missing_numbers(results: str, reported: set[float]) -> list[str]:
    """The decimals of `results` that no reported number rounds to, at the decimals the text gives."""
    missing = []
    for text in DECIMAL.findall(results):
        value, decimals = float(text), len(text.split(".")[1])
        if not any(round(number, decimals) == round(value, decimals) for number in reported):
            missing.append(text)
    return missing


def test_every_number_in_the_readme_results_is_in_the_committed_reports():
    results = section((REPO / "README.md").read_text(), "Results")
    assert len(DECIMAL.findall(results)) >= 20, "the Results section should quote the run's numbers"
    missing = missing_numbers(results, reported_numbers(REPO / "reports"))
    assert not missing, f"README Results quotes numbers that no file under reports/ holds: {missing}"


def test_every_number_in_docs_results_is_in_the_committed_reports():
    results = (REPO / "docs/results.md").read_text()
    assert len(DECIMAL.findall(results)) >= 40, "docs/results.md should quote the run's numbers in full"
    missing = missing_numbers(results, reported_numbers(REPO / "reports"))
    assert not missing, f"docs/results.md quotes numbers that no file under reports/ holds: {missing}"


# Numbers no pipeline file holds, each measured by hand where it is quoted: the Python version and `make test`'s
# times, up to the bracket that says so (pytest's own summary line; a test run writes nothing into the repository).
BY_HAND = re.compile(r"Python 3\.11|`make test` ran [^()]*\([^)]*\)")


def test_every_time_the_readme_and_the_pipeline_doc_quote_is_the_recorded_full_runs():
    """The Quick start's and docs/pipeline.md's times come from reports/run_timings.json (`make all`'s record of
    its last full run) and the GAN stages' timings."""
    texts = {
        "README Quick start": section((REPO / "README.md").read_text(), "Quick start"),
        "docs/pipeline.md": section((REPO / "docs/pipeline.md").read_text(), "Time on this machine"),
    }
    reported = reported_numbers(REPO / "reports")
    for name, text in texts.items():
        missing = missing_numbers(BY_HAND.sub("", text), reported)
        assert not missing, f"{name} quotes numbers that no file under reports/ holds: {missing}"


def test_a_stale_or_invented_number_is_caught():
    reported = {0.8437, -0.0512, 2.6849}
    assert missing_numbers("AUC 0.844, custom - paper -0.051, SWD 2.68x", reported) == []
    assert missing_numbers("AUC 0.845, custom - paper +0.051, SWD 2.7x", reported) == ["0.845", "+0.051"]


def test_every_number_in_the_model_card_is_in_the_committed_reports():
    """The shipped detector's card quotes the committed run, which the shipped files are (test_shipped)."""
    card = (REPO / "docs/model_card.md").read_text()
    assert len(DECIMAL.findall(card)) >= 30, "the model card should quote the shipped detector's numbers"
    missing = missing_numbers(card, reported_numbers(REPO / "reports"))
    assert not missing, f"docs/model_card.md quotes numbers that no file under reports/ holds: {missing}"


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
