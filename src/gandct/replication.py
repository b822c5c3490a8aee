"""Verdicts across replicate runs: the same pipeline run with another `seed` (new splits, new GAN fakes, new
detectors), whose `reports/evaluate/detail.json` is kept under `reports/replicate/<run>/`.

One run's interval (`comparison.paired_bootstrap`) counts its detectors' training seeds and its test images,
but not what only a re-run draws anew: which few photographs the test split holds (the sample data splits
19 photos by photo) and the GANs themselves (one training run each). So a verdict stands only when every
replicate run gives it.
"""

from __future__ import annotations

from gandct.comparison import BootstrapInterval, verdict

Key = tuple[str, str, str]  # (pair "a - b", test set, metric)


def verdicts(detail: dict) -> dict[Key, str]:
    """{(pair, test set, metric): verdict} of one run's `detail.json` comparisons (undefined ones left out)."""
    found = {}
    for pair, by_set in detail["comparisons"].items():
        for test_set, by_metric in by_set.items():
            for metric, interval in by_metric.items():
                if interval:
                    found[pair, test_set, metric] = verdict(BootstrapInterval.from_dict(interval))
    return found


def replicated_verdict(run_verdicts: list[str]) -> str:
    """The verdict every run gives, else "not replicated"."""
    return run_verdicts[0] if len(set(run_verdicts)) == 1 else "not replicated"


def shared(runs: list[dict[Key, str]]) -> set[Key]:
    """The comparisons every run made: a test set added after a replicate ran has no replicate yet."""
    return set.intersection(*(set(run) for run in runs))


def unreplicated_sets(runs: list[dict[Key, str]]) -> list[str]:
    """The test sets some run compared on and another did not (no replicate of them yet)."""
    return sorted({key[1] for run in runs for key in run} - {key[1] for key in shared(runs)})


def contradictions(runs: list[dict[Key, str]]) -> list[Key]:
    """The comparisons every run made, of which one run calls "better" and another "worse"."""
    return sorted(key for key in shared(runs) if {"better", "worse"} <= {run[key] for run in runs})
