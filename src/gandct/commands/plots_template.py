"""plots-template: write the page template that lets `dvc plots show` draw without a network.

DVC's plots page loads vega, vega-lite and vega-embed from a CDN, so on a cluster node or a plane it is a
white page. `.dvc/config` points `plots.html_template` at `.dvc/plots_offline.html`, which this command
writes: DVC's page with the three libraries inlined as one script, bundled by vl-convert from its wheel (no
npm, no network). `make requirements` writes it (git ignores it: it is built from the installed wheel).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import vl_convert

from gandct.entry import run_command
from gandct.fileio import atomic_path

TEMPLATE = Path(".dvc/plots_offline.html")  # `.dvc/config` plots.html_template, relative to .dvc/
VEGA_LITE = "5.21"  # DVC's plot templates are Vega-Lite 5 specs ($schema .../vega-lite/v5.json)

# DVC's page (dvc_render.html.PAGE_HTML) with {scripts}, the CDN tags, replaced by the inlined bundle; DVC fills
# {refresh_tag} and {plot_divs}, whose inline scripts call vegaEmbed, which the bundle defines on window.
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <script>BUNDLE</script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def page() -> str:
    """The template's text: PAGE with vega-embed, vega-lite and vega inlined."""
    return PAGE.replace("BUNDLE", vl_convert.javascript_bundle(vl_version=VEGA_LITE))


def main(argv: list[str] | None = None) -> None:
    """Write the offline template `dvc plots show` draws with."""
    parser = argparse.ArgumentParser(prog="gandct plots-template", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=TEMPLATE, help="where to write it (default %(default)s)")
    args = parser.parse_args(argv)
    with atomic_path(args.output) as staging:
        staging.write_text(page())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run_command("plots-template", main)
