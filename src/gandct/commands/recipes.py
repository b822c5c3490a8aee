"""recipes: choose `custom`'s training recipe on generators it never trained on, with val images only (opt-in,
`make recipes`; an experiment run once, not a stage: docs/detectors.md holds its table).

A recipe is the input `custom` sees (gray or colour, the DCT of the image, of its NPR residual or a whitened
spectrum), whether its train images are perturbed, whether it also trains on twins, and whether some train
images of both classes are turned gray. Each recipe trains `custom` (params.yaml's `train.custom` architecture
and optimiser) on fold after fold and is scored on the val split only, never on a test or third-party set:

- a fold holds one twin family out: a recipe that trains on twins learns the ProGAN's and the other three
  families' train fakes; a recipe without twins learns the ProGAN's alone (one training scores every fold);
- its score is the mean ROC AUC of the val reals against the val fakes of the held-out family and of the
  DCGAN (never trained on), on the images as they are and, for colour recipes, with both classes turned
  gray (8 of the 45 bundled images are gray photographs, and a colour detector may read "no chroma" as
  "real"); the share called fake and the share of degraded val photos (JPEG 90 and 75, blur 1, downscale 2)
  flagged fake at the threshold chosen on the fold's own val fakes are kept beside it;
- guards, fixed before any seed ran: a recipe is eligible only if, on val, its ROC AUC on the ProGAN (seen)
  is at least 0.99 as is and 0.95 with both classes JPEG-encoded at quality 75, and at most 5% of the
  degraded val photos are flagged (generalising must not cost what works on the seen generator). The eligible
  recipe with the best objective wins; a lead under the seed spread goes to the simpler recipe.

Reads the manifest and the generators' listings (the pipeline's data up to the GAN stages). Writes
`reports/recipes/<recipe>_seed_<s>.json` per run; `--table` writes `reports/recipes/summary.json` (one row per
recipe, means over its seeds) and prints it as the Markdown table of docs/detectors.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import scipy.fft
from sklearn.metrics import roc_auc_score

from gandct import paths
from gandct.comparison import choose_threshold
from gandct.dct import Preprocessing, frame_image, log_spectra
from gandct.entry import run_command
from gandct.errors import GandctError
from gandct.fileio import read_csv, write_text
from gandct.images import as_gray, load_rgb
from gandct.logs import setup_logging
from gandct.models import spectral_net
from gandct.params import Params, load_params
from gandct.perturbations import perturb_batch, perturb_image, perturb_randomly
from gandct.report_markdown import rule

log = logging.getLogger(__name__)

RUNS = paths.REPORTS / "recipes"
SUMMARY = RUNS / "summary.json"  # the table's numbers, one row per recipe
TWIN_GENERATORS = tuple(f"autogan_{family}" for family in paths.AUTOGAN_FAMILIES)
ALWAYS_HELD_OUT = "dcgan"
DEGRADATIONS = (("jpeg", 90), ("jpeg", 75), ("blur", 1.0), ("downscale", 2))
WANG = {"jpeg": [30, 100], "blur": [0.1, 3.0]}  # Wang et al. 2020's ranges: JPEG quality, blur sigma
PERTURB_SHARE = 0.5
# The guards every chosen recipe must pass on val (issue goals: ProGAN >= 0.99, JPEG 75 >= 0.95, <= 5% flagged)
SEEN_MIN_ROC_AUC = {"clean": 0.99, "jpeg_75": 0.95}
MAX_FLAGGED = 0.05


@dataclass(frozen=True)
class Recipe:
    """One way to train `custom`."""

    color: str  # gray | rgb: the channels the DCT is taken of
    view: str = (
        "dct"  # dct | residual (NPR: x minus its 2x nearest up-sampled half) | whitened (minus its radial trend)
    )
    # None | "each": blur and JPEG each with probability 0.5 (Wang et al. 2020) | "each_downscale": also a 2x
    # downscale with probability 0.5 | "one": one of blur and JPEG with probability 0.5 (train.<model>.perturb's rule)
    perturb: str | None = None
    synced: bool = True  # "each": a photo and its twins get one draw (Rajan et al. 2025), else every image its own
    twins: bool = False  # also train on the twins of three families (the fourth is the fold's held-out one)
    gray_share: float = 0.0  # each epoch, this share of the train images of both classes is turned gray


RECIPES = {
    "gray": Recipe("gray"),  # the pipeline's custom until this search
    "gray_perturb_one": Recipe("gray", perturb="one"),
    "rgb": Recipe("rgb"),
    "rgb_perturb_one": Recipe("rgb", perturb="one"),
    "rgb_gray_share": Recipe("rgb", gray_share=0.3),
    "residual_rgb": Recipe("rgb", view="residual"),
    "residual_rgb_perturb": Recipe("rgb", view="residual", perturb="each"),
    "whitened_rgb_perturb_one": Recipe("rgb", view="whitened", perturb="one"),
    "rgb_twins_perturb": Recipe("rgb", perturb="each", twins=True),
    "rgb_twins_perturb_independent": Recipe("rgb", perturb="each", twins=True, synced=False),
    "rgb_twins_perturb_downscale_independent": Recipe("rgb", perturb="each_downscale", twins=True, synced=False),
}


@dataclass(frozen=True)
class Images:
    """Fitted uint8 images (N, H, W, C), their labels (0 real, 1 fake) and their file stems (a twin shares its
    photo's stem)."""

    pixels: np.ndarray
    labels: np.ndarray
    stems: list[str]


def split_images(split: str, fakes: list[str], preprocessing: Preprocessing) -> Images:
    """The split's reals and, shared evenly as the features stage shares them, the split's fakes of `fakes`."""
    rows = [(row["path"], 0) for row in read_csv(paths.MANIFEST) if row["split"] == split and row["label"] == "real"]
    for place, generator in enumerate(fakes):
        listed = [row for row in read_csv(paths.generated_listing(generator)) if row["split"] == split]
        rows += [(row["path"], 1) for row in listed[place :: len(fakes)]]
    pixels = np.stack([frame_image(load_rgb(path), preprocessing) for path, _ in rows])
    return Images(pixels, np.array([label for _, label in rows], np.float32), [Path(path).stem for path, _ in rows])


def residual_spectra(images: np.ndarray, eps: float) -> np.ndarray:
    """log(|DCT| + eps) of x minus the nearest-neighbour 2x up-sampling of x[::2, ::2] (Tan et al. CVPR 2024)."""
    x = images.astype(np.float64)
    x -= np.repeat(np.repeat(x[:, ::2, ::2], 2, axis=1), 2, axis=2)
    return np.log(np.abs(scipy.fft.dctn(x, type=2, norm="ortho", axes=(1, 2))) + eps).astype(np.float32)


def whitened_spectra(images: np.ndarray, eps: float) -> np.ndarray:
    """Each channel's log spectrum minus its least-squares fit by 1, log(1 + r) and log(1 + r)^2 (r: the radius
    in coefficients): the decay is gone, peaks and their pattern stay."""
    spectra = log_spectra(images, eps)
    count, side, _, channels = spectra.shape
    rows, columns = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    radius = np.log1p(np.hypot(rows, columns)).ravel()
    design = np.stack([np.ones_like(radius), radius, radius**2], axis=1)
    flat = spectra.transpose(0, 3, 1, 2).reshape(-1, side * side)
    coefficients, *_ = np.linalg.lstsq(design, flat.T, rcond=None)
    whitened = (flat - (design @ coefficients).T).reshape(count, channels, side, side)
    return whitened.transpose(0, 2, 3, 1).astype(np.float32)


VIEWS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "dct": log_spectra,
    "residual": residual_spectra,
    "whitened": whitened_spectra,
}


def recipe_preprocessing(recipe: Recipe, params: Params) -> Preprocessing:
    """params.yaml's view of an image (size, crop, eps) in the recipe's colour, without a JPEG re-encode."""
    features = params.features
    return Preprocessing(features.image_size, features.crop, recipe.color, None, features.eps)


def epoch_images(recipe: Recipe, train: Images, seed: int, epoch: int) -> np.ndarray:
    """The train images of one epoch: perturbed and turned gray as the recipe says, from seeded draws."""
    pixels = train.pixels
    if recipe.perturb == "one":
        pixels = perturb_randomly(pixels, WANG, PERTURB_SHARE, np.random.default_rng([seed, epoch]))
    elif recipe.perturb in ("each", "each_downscale"):
        pixels = pixels.copy()
        for index, stem in enumerate(train.stems):  # synced: one draw per photo and its twins
            key = zlib.crc32(stem.encode()) if recipe.synced else index
            rng = np.random.default_rng([seed, epoch, key])
            if recipe.perturb == "each_downscale" and rng.random() < PERTURB_SHARE:
                pixels[index] = perturb_image(pixels[index], "downscale", 2, rng)
            if rng.random() < PERTURB_SHARE:
                pixels[index] = perturb_image(pixels[index], "blur", float(rng.uniform(*WANG["blur"])), rng)
            if rng.random() < PERTURB_SHARE:
                quality = int(rng.integers(WANG["jpeg"][0], WANG["jpeg"][1] + 1))
                pixels[index] = perturb_image(pixels[index], "jpeg", quality, rng)
    if recipe.gray_share:
        chosen = np.random.default_rng([seed, epoch, 1]).random(len(pixels)) < recipe.gray_share
        pixels = pixels.copy()
        pixels[chosen] = np.stack([as_gray(image) for image in pixels[chosen]])
    return pixels


def train_recipe(recipe: Recipe, fakes: list[str], seed: int, params: Params) -> tuple[Callable, float, int]:
    """Train custom on the train reals and `fakes` with early stopping on the val loss of the same sources; return
    its scorer (uint8 images -> p_fake), the val threshold and the epochs run."""
    settings, eps, preprocessing = params.train.custom, params.features.eps, recipe_preprocessing(recipe, params)
    train, val = split_images("train", fakes, preprocessing), split_images("val", fakes, preprocessing)
    view = VIEWS[recipe.view]
    plain = view(train.pixels, eps)
    mean, std = plain.mean(axis=0), plain.std(axis=0) + 1e-6  # per coefficient, as DctStats z-scores

    def inputs(pixels: np.ndarray) -> np.ndarray:
        return ((view(pixels, eps) - mean) / std).astype(np.float32)

    keras.utils.set_random_seed(seed)
    model = spectral_net(plain.shape[1:], width=settings.width, dropout=settings.dropout, l2=settings.l2)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="binary_crossentropy")
    val_inputs, order_rng = inputs(val.pixels), np.random.default_rng(seed)
    best_loss, best_weights, waited, epochs = np.inf, model.get_weights(), 0, 0
    for epoch in range(settings.epochs):
        epochs += 1
        x = inputs(epoch_images(recipe, train, seed, epoch))
        order = order_rng.permutation(len(x))
        model.fit(x[order], train.labels[order], batch_size=settings.batch_size, epochs=1, verbose=0)
        loss = float(model.evaluate(val_inputs, val.labels, batch_size=256, verbose=0))
        if loss < best_loss:
            best_loss, best_weights, waited = loss, model.get_weights(), 0
        elif (waited := waited + 1) >= settings.patience:
            break
    model.set_weights(best_weights)

    def score(pixels: np.ndarray) -> np.ndarray:
        return model.predict(inputs(pixels), batch_size=256, verbose=0)[:, 0].astype(np.float64)

    return score, choose_threshold(val.labels.astype(np.int64), score(val.pixels)), epochs


def held_out_scores(recipe: Recipe, score: Callable, threshold: float, held: list[str], params: Params) -> dict:
    """ROC AUC and share called fake per held-out generator's val fakes against the val reals (also with both
    classes gray, for colour recipes), and the share of degraded val reals flagged fake."""
    preprocessing = recipe_preprocessing(recipe, params)
    reals = split_images("val", [], preprocessing).pixels
    looks = {"as_is": lambda pixels: pixels}
    if recipe.color == "rgb":
        looks["gray"] = lambda pixels: np.stack([as_gray(image) for image in pixels])
    result: dict = {}
    for generator in held:
        fakes = split_images("val", [generator], preprocessing)
        fakes = fakes.pixels[fakes.labels == 1]
        result[generator] = {}
        for look, change in looks.items():
            p_real, p_fake = score(change(reals)), score(change(fakes))
            labels = np.r_[np.zeros(len(p_real)), np.ones(len(p_fake))]
            result[generator][look] = {
                "roc_auc": float(roc_auc_score(labels, np.r_[p_real, p_fake])),
                "called_fake": float(np.mean(p_fake >= threshold)),
            }
    flagged = {"clean": float(np.mean(score(reals) >= threshold))}
    for kind, level in DEGRADATIONS:
        flagged[f"{kind}_{level}"] = float(np.mean(score(perturb_batch(reals, kind, level, 0)) >= threshold))
    return {"held_out": result, "reals_flagged": flagged}


def seen_scores(score: Callable, preprocessing: Preprocessing) -> dict[str, float]:
    """ROC AUC of the val reals against the ProGAN's val fakes (seen in training), as they are and with both
    classes JPEG-encoded at quality 75, as the evaluate stage's perturbed sets are."""
    images = split_images("val", ["progan"], preprocessing)
    return {
        "clean": float(roc_auc_score(images.labels, score(images.pixels))),
        "jpeg_75": float(roc_auc_score(images.labels, score(perturb_batch(images.pixels, "jpeg", 75, 0)))),
    }


def run_recipe(name: str, seed: int, params: Params) -> dict:
    """Every fold of one recipe with one seed: the per-fold scores and their means."""
    recipe, started, folds = RECIPES[name], time.perf_counter(), []
    shared = None if recipe.twins else train_recipe(recipe, ["progan"], seed, params)
    preprocessing = recipe_preprocessing(recipe, params)
    shared_seen = seen_scores(shared[0], preprocessing) if shared else None  # one model serves every fold: scored once
    for family in TWIN_GENERATORS:
        held = [family, ALWAYS_HELD_OUT]
        fakes = ["progan", *(other for other in TWIN_GENERATORS if other != family)]
        score, threshold, epochs = shared or train_recipe(recipe, fakes, seed, params)
        seen = shared_seen if shared else seen_scores(score, preprocessing)
        folds.append(
            {"held": held, "epochs": epochs, **held_out_scores(recipe, score, threshold, held, params), "seen": seen}
        )
        log.info("%s seed %d, %s held out: %s", name, seed, family, json.dumps(folds[-1]["held_out"]))

    def mean(look: str, figure: str) -> float | None:
        values = [
            fold["held_out"][g][look][figure] for fold in folds for g in fold["held"] if look in fold["held_out"][g]
        ]
        return round(float(np.mean(values)), 4) if values else None

    return {
        "recipe": name,
        "settings": asdict(recipe),
        "seed": seed,
        "roc_auc": mean("as_is", "roc_auc"),
        "gray_roc_auc": mean("gray", "roc_auc"),
        "called_fake": mean("as_is", "called_fake"),
        "worst_flagged": round(float(np.mean([max(fold["reals_flagged"].values()) for fold in folds])), 4),
        "seen_roc_auc": {
            look: round(float(np.mean([fold["seen"][look] for fold in folds])), 4) for look in SEEN_MIN_ROC_AUC
        },
        "seconds": round(time.perf_counter() - started, 1),
        "folds": folds,
    }


def summarise(runs: list[dict]) -> list[dict]:
    """One row per recipe, best objective first: its means over its seeds (the objective's seed-to-seed standard
    deviation where several) and whether it passes the guards. The objective is the mean of the held-out ROC AUC
    as is and with both classes gray (a gray recipe's two are one)."""
    by_recipe: dict[str, list[dict]] = {}
    for run in runs:
        by_recipe.setdefault(run["recipe"], []).append(run)
    rows = []
    for name, found in by_recipe.items():
        auc = np.array([run["roc_auc"] for run in found])
        gray = np.array([run["gray_roc_auc"] if run["gray_roc_auc"] is not None else run["roc_auc"] for run in found])
        objective = (auc + gray) / 2
        seen = {
            look: round(float(np.mean([run["seen_roc_auc"][look] for run in found])), 4) for look in SEEN_MIN_ROC_AUC
        }
        worst_flagged = round(float(np.mean([run["worst_flagged"] for run in found])), 4)
        rows.append(
            {
                "recipe": name,
                "seeds": len(found),
                "roc_auc": round(float(auc.mean()), 4),
                "gray_roc_auc": round(float(gray.mean()), 4),
                "objective": round(float(objective.mean()), 4),
                "objective_std": round(float(objective.std(ddof=1)), 4) if len(found) > 1 else None,
                "called_fake": round(float(np.mean([run["called_fake"] for run in found])), 4),
                "worst_flagged": worst_flagged,
                "seen_roc_auc": seen,
                "eligible": worst_flagged <= MAX_FLAGGED
                and all(seen[look] >= least for look, least in SEEN_MIN_ROC_AUC.items()),
                "seconds": round(float(np.mean([run["seconds"] for run in found]))),
            }
        )
    return sorted(rows, key=lambda row: row["objective"], reverse=True)


def table(rows: list[dict]) -> str:
    """The summary as Markdown."""
    lines = [
        "| recipe | seeds | val ROC AUC, held out | same, both classes gray | objective (± seed std) | called fake "
        "| worst degraded photos flagged | ProGAN (seen) | ProGAN, JPEG 75 | passes the guards | seconds per seed |",
        rule(11),
    ]
    for row in rows:
        spread = f" ± {row['objective_std']:.3f}" if row["objective_std"] is not None else ""
        lines.append(
            f"| {row['recipe']} | {row['seeds']} | {row['roc_auc']:.3f} | {row['gray_roc_auc']:.3f} | "
            f"{row['objective']:.3f}{spread} | {row['called_fake']:.3f} | {row['worst_flagged']:.3f} | "
            f"{row['seen_roc_auc']['clean']:.3f} | {row['seen_roc_auc']['jpeg_75']:.3f} | "
            f"{'yes' if row['eligible'] else 'no'} | {row['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`gandct recipes [--seeds S ...] RECIPE ...` runs recipes; `gandct recipes --table` prints the table."""
    parser = argparse.ArgumentParser(prog="gandct recipes", description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help=f"recipes to run, of: {', '.join(RECIPES)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (default: 0)")
    parser.add_argument("--table", action="store_true", help="print the table of the runs in reports/recipes/")
    args = parser.parse_args(argv)
    setup_logging()
    unknown = sorted(set(args.recipes) - set(RECIPES))
    if unknown:
        raise GandctError(f"unknown recipe(s) {', '.join(unknown)}; expected some of {', '.join(RECIPES)}")
    params = load_params()
    for name in args.recipes:
        for seed in args.seeds:
            run = run_recipe(name, seed, params)
            write_text(RUNS / f"{name}_seed_{seed}.json", json.dumps(run, indent=1) + "\n")
            log.info("%s seed %d: val ROC AUC %.4f (gray %s)", name, seed, run["roc_auc"], run["gray_roc_auc"])
    if args.table:
        runs = [json.loads(path.read_text()) for path in sorted(RUNS.glob("*_seed_*.json"))]
        if not runs:
            raise GandctError(f"no runs in {RUNS}; run some recipes first (gandct recipes rgb --seeds 0 1 2)")
        rows = summarise(runs)
        write_text(SUMMARY, json.dumps(rows, indent=1) + "\n")
        print(table(rows), end="")


if __name__ == "__main__":
    run_command("recipes", main)
