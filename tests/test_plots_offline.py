"""`dvc plots show` draws with the network off: the page of the project's `.dvc/config` template, opened in
headless Chromium that cannot reach any host, has every plot drawn; DVC's own page (CDN scripts) draws none."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, pipeline_env

from gandct.commands import plots_template

BROWSER = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on PATH (.ci/run installs the Debian package)")

# A line plot as dvclive writes them and a confusion matrix as evaluate writes it: two plots, two templates.
DVC_YAML = """plots:
  - curves/loss.tsv:
      x: step
      y: loss
  - predictions.json:
      template: confusion
      x: actual
      y: predicted
"""


def offline_dom(page: Path) -> str:
    """The page's DOM after its scripts ran, in a browser whose every request to a host fails."""
    command = [
        BROWSER,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--proxy-server=127.0.0.1:9",  # nothing listens there: every http(s) request fails
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=20000",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def drawn_plots(dom: str) -> int:
    """Plots vega drew: each draws one SVG root of class `marks` holding its marks."""
    return len(re.findall(r'<svg[^>]*class="marks"', dom))


@pytest.fixture
def plots_project(tmp_path: Path) -> Path:
    env = pipeline_env()
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, env=env, check=True)
    shutil.copy(REPO / ".dvc/config", tmp_path / ".dvc/config")  # the project's plots.html_template
    plots_template.main(["--output", str(tmp_path / plots_template.TEMPLATE)])
    (tmp_path / "curves").mkdir()
    (tmp_path / "curves/loss.tsv").write_text("step\tloss\n" + "".join(f"{s}\t{1 / (s + 1):.4f}\n" for s in range(8)))
    predictions = [{"actual": a, "predicted": p} for a, p in ((0, 0), (0, 1), (1, 1), (1, 1))]
    (tmp_path / "predictions.json").write_text(json.dumps(predictions))
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    return tmp_path


def show(project: Path, *options: str) -> Path:
    subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show", "-o", "page", *options],
        cwd=project,
        env=pipeline_env(),
        capture_output=True,
        check=True,
    )
    return project / "page/index.html"


def test_the_plots_page_draws_every_plot_with_no_network(plots_project):
    page = show(plots_project)
    assert "cdn.jsdelivr.net" not in page.read_text()
    assert drawn_plots(offline_dom(page)) == 2


def test_dvcs_own_page_draws_nothing_offline_which_is_what_the_template_fixes(plots_project):
    default = plots_project / "cdn.html"
    default.write_text(plots_template.PAGE.replace("<script>BUNDLE</script>", "{scripts}"))
    page = show(plots_project, "--html-template", str(default))
    assert "cdn.jsdelivr.net" in page.read_text()
    assert drawn_plots(offline_dom(page)) == 0
