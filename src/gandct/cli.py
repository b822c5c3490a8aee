"""The `gandct` command: `gandct <stage> [options]` runs one pipeline stage (as `dvc.yaml` does)."""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
from types import ModuleType
from typing import NoReturn

from gandct.entry import run_command

# sub-command -> (module, one-line help). Modules are imported on use so that `gandct download`
# does not pay for importing TensorFlow.
COMMANDS = {
    "download": ("gandct.stages.download", "fetch or build the raw images for data.source"),
    "prepare": ("gandct.stages.prepare", "check, de-duplicate and split the raw images into a manifest"),
    "progan": ("gandct.stages.progan", "train the ProGAN on the train reals and write its train/val/test fakes"),
    "dcgan": (
        "gandct.stages.dcgan",
        "train the DCGAN on the train reals and write its fakes (unseen unless train.fakes names it)",
    ),
    "autogan": (
        "gandct.stages.autogan",
        "train one up-sampling family's auto-encoder and write a twin of every real image",
    ),
    "third_party": (
        "gandct.stages.third_party",
        "write a fake of every test photo with a generator someone else trained: gandct third_party <generator>",
    ),
    "quality": ("gandct.stages.quality", "measure each generator's fakes against the train reals (sliced Wasserstein)"),
    "features": ("gandct.stages.features", "cache the DCT maps and pixels of every image as .npy arrays"),
    "train": ("gandct.stages.train", "train one detector on the cached features: gandct train <model>"),
    "train_attribution": (
        "gandct.stages.train_attribution",
        "train one attributor (which source made an image) on the attribution sets: gandct train_attribution <model>",
    ),
    "evaluate": ("gandct.stages.evaluate", "score every detector on the test, unseen-generator and perturbed sets"),
    "evaluate_attribution": (
        "gandct.stages.evaluate_attribution",
        "score every attributor on the test images of every source: accuracy, per source, confusion matrices",
    ),
    "saliency": (
        "gandct.stages.saliency",
        "measure where the DCT detectors look against where the classes differ; draw the saliency figures",
    ),
    "report": ("gandct.stages.report", "write reports/report.md and its figures from the other stages' numbers"),
    "predict": (
        "gandct.commands.predict",
        "score image files or folders with a trained detector (or name their source with an attributor)",
    ),
    "heatmap": ("gandct.commands.heatmap", "draw images beside their DCT heatmaps"),
    "compare": (
        "gandct.commands.compare",
        "the experiments' headline metrics, one column per run, fitting the terminal",
    ),
    "plots-template": ("gandct.commands.plots_template", "write the template that lets dvc plots show draw offline"),
    "efficiency": (
        "gandct.commands.efficiency",
        "test accuracy and ROC AUC against training images per class (opt-in)",
    ),
    "recipes": (
        "gandct.commands.recipes",
        "choose custom's training recipe on held-out generators' val fakes (opt-in experiment)",
    ),
    "timed-repro": (
        "gandct.commands.timed_repro",
        "dvc repro, recording each stage's wall time of a full run in reports/run_timings.json (make all)",
    ),
    "transfer": (
        "gandct.commands.transfer",
        "leave-one-generator-out: ROC AUC per training source on held-out generators",
    ),
}


# TensorFlow's C++ start-up notices: written straight to file descriptor 2 while its modules import, before
# any Python logging exists, so neither logging nor TF_CPP_MIN_LOG_LEVEL stops them.
START_UP_NOTICES = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|cpu_feature_guard"
    r"|^To enable the following instructions"
)
QUIET_TF_LOG_LEVEL = "2"  # TensorFlow's C++ logging: errors and fatal only
VERBOSE_ENV = "GANDCT_VERBOSE"  # set to 1 (e.g. for a whole `dvc repro`) to keep the notices, as --verbose does


def usage() -> str:
    """The help text: every command with its one line."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return (
        "usage: gandct [--verbose] <command> [options]\n\n--verbose keeps TensorFlow's start-up notices "
        f"(or {VERBOSE_ENV}=1)\n\ncommands:\n" + "\n".join(lines) + "\n"
    )


def without_start_up_notices(text: str) -> str:
    """`text` less TensorFlow's start-up notice lines; every other line as it was."""
    return "".join(line for line in text.splitlines(keepends=True) if not START_UP_NOTICES.search(line))


def import_quietly(module_name: str) -> ModuleType:
    """Import a command's module with file descriptor 2 held in a temporary file, then write back all it
    caught but TensorFlow's start-up notices (Python warnings and errors of the import stay)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            return importlib.import_module(module_name)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            sys.stderr.write(without_start_up_notices(held.read().decode(errors="replace")))
            sys.stderr.flush()


def main(argv: list[str] | None = None) -> NoReturn:
    """Run `gandct <command> [options]`: the command's module, with TensorFlow's start-up notices held back."""
    argv = sys.argv[1:] if argv is None else argv
    verbose = argv[:1] == ["--verbose"] or os.environ.get(VERBOSE_ENV) == "1"
    argv = argv[1:] if argv[:1] == ["--verbose"] else argv
    if not argv or argv[0] in {"-h", "--help"}:
        sys.stdout.write(usage())
        sys.exit(0)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"gandct: unknown command {name!r}\n\n{usage()}")
        sys.exit(2)
    if not verbose:
        # TensorFlow's C++ runtime notes while a command runs (e.g. tf.data's "NodeDef mentions attribute" while
        # a model trains) are not the user's business either; a level the user set wins.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    module = (importlib.import_module if verbose else import_quietly)(COMMANDS[name][0])
    run_command(name, module.main, rest)
