"""train_attribution stage: fit one attributor once per seed of `attribute.seeds`, `gandct train_attribution
<model>`: which source made an image, the photos or one of the generators (`paths.SOURCES`), as in Frank et
al. 2020's attribution experiment (Sec. 4.1). The model is the detector's architecture with one logit per
source and a softmax, trained with the detector's settings (`train.<model>`) on the cached attribution sets.

Reads `data/processed/attribution_train` and `attribution_val` (features stage). Writes each seed's model
`models/attributors/<model>/seed_<s>.keras` and the seed ensemble (softmax of the seeds' mean logits)
`models/attributors/<model>.keras`, each with the attribution statistics (`.dct_stats.npz`) and the class names
(`.classes.json`) beside it; per seed the epochs and the val loss and accuracy of the kept epoch
(`reports/attribution/<model>/summary.json`) and the seconds (`timing.json`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

import keras

from gandct import distribute, paths
from gandct.detector_names import ATTRIBUTION_MODELS, trained_seeds
from gandct.entry import run_command
from gandct.fileio import atomic_path, write_text
from gandct.fitting import ATTRIBUTION, fit, kept_epoch
from gandct.keras_io import save_model
from gandct.logs import setup_logging
from gandct.models import seed_ensemble
from gandct.params import Params, load_params

log = logging.getLogger(__name__)


def save_attributor(model: keras.Model, model_path: Path) -> None:
    """Write one attributor with the statistics its inputs are z-scored with and its class names beside it."""
    save_model(model, model_path)
    with atomic_path(paths.model_stats(model_path)) as tmp:
        shutil.copyfile(paths.ATTRIBUTION_DCT_STATS, tmp)
    write_text(paths.model_classes(model_path), json.dumps({"classes": list(paths.SOURCES)}, indent=2) + "\n")


def train_attributor(name: str, params: Params) -> dict:
    """Train attributor `name` once per seed, write the models and the ensemble, and return the summary."""
    seeds = trained_seeds(name, params.attribute.seeds)
    trained, per_seed, seconds = {}, {}, {}
    for seed in seeds:
        started = time.perf_counter()
        trained[seed], history = fit(name, params, seed, task=ATTRIBUTION)
        save_attributor(trained[seed], paths.attributor_seed_model(name, seed))
        seconds[str(seed)] = round(time.perf_counter() - started, 1)
        per_seed[str(seed)] = kept_epoch(history)
        log.info(
            "%s seed %d: val accuracy %.4f, %.0f s", name, seed, per_seed[str(seed)]["val_accuracy"], seconds[str(seed)]
        )
    save_attributor(seed_ensemble(trained, name), paths.attributor_model(name))
    summary = {"model": name, "classes": list(paths.SOURCES), "seeds": per_seed}
    write_text(paths.attribution_summary(name), json.dumps(summary, indent=2) + "\n")
    write_text(paths.attribution_timing(name), json.dumps({"train_seconds": seconds}, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    """Run the stage for one attributor: `gandct train_attribution <model>`."""
    parser = argparse.ArgumentParser(prog="gandct train_attribution", description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=ATTRIBUTION_MODELS, help="which attributor to train")
    args = parser.parse_args(argv)
    setup_logging()
    params = load_params()
    strategy = distribute.strategy(params.train.strategy)  # before any other TensorFlow op (multiworker)
    with distribute.outputs_of(strategy):  # on a cluster only the chief's outputs stay
        train_attributor(args.model, params)
    log.info("%s: wrote %s, the seed ensemble", args.model, paths.attributor_model(args.model))


if __name__ == "__main__":
    run_command("train_attribution", main)
