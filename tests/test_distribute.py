"""Training on a cluster of two workers on 127.0.0.1 (train.strategy: multiworker, TF_CONFIG) matches one process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from helpers import pipeline_env, write_features, write_tiny_params

from gandct import paths

TIMEOUT = (
    180  # seconds for each process (about 40 on an idle 2-core machine); a worker whose peer died would wait forever
)
# Few, large steps: on a cluster every step and every metric read is a round trip between the workers.
PAPER = {"epochs": 5, "batch_size": 32, "learning_rate": 0.003, "patience": 2, "perturb": None}


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_train(root: Path, tf_config: dict | None, stage: str = "train") -> subprocess.Popen:
    """`gandct <stage> paper` in `root`, in a process group of its own (so that it can be killed whole), with
    its temporary files in `root`/tmp."""
    env = pipeline_env()
    (root / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(root / "tmp")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        ["gandct", stage, "paper"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def project(root: Path, strategy: str) -> Path:
    write_features(root)
    for attribution_set, split in paths.ATTRIBUTION_SPLITS.items():  # real (0) and one generator (1) of 7 sources
        shutil.copytree(root / paths.processed_split(split), root / paths.processed_split(attribution_set))
    shutil.copyfile(root / paths.DCT_STATS, root / paths.ATTRIBUTION_DCT_STATS)
    write_tiny_params(root, strategy=strategy)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["paper"] = PAPER
    params["train"]["seeds"] = [0]
    params["attribute"]["seeds"] = [0]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def val_accuracy(root: Path) -> float:
    return json.loads((root / paths.train_summary("paper")).read_text())["seeds"]["0"]["val_accuracy"]


def run_cluster_and_single(cluster_root: Path, single_root: Path, stage: str) -> None:
    """`gandct <stage> paper` on two workers in `cluster_root` and in one process in `single_root`, together."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = [
        start_train(cluster_root, {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}, stage)
        for index in range(2)
    ]
    processes.append(start_train(single_root, None, stage))
    try:
        outputs = [process.communicate(timeout=TIMEOUT)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    assert not any((cluster_root / "tmp").iterdir())  # the other worker deleted its folder


@pytest.mark.timeout(2 * TIMEOUT + 30)
def test_two_workers_write_one_model_that_matches_one_process(tmp_path):
    cluster_root = project(tmp_path / "cluster", "multiworker")
    single_root = project(tmp_path / "single", "default")
    run_cluster_and_single(cluster_root, single_root, "train")

    written = sorted(path.name for path in (cluster_root / paths.DETECTORS).iterdir())
    assert written == ["paper", "paper.dct_stats.npz", "paper.keras", "paper.threshold.json"]
    assert sorted(path.name for path in (cluster_root / paths.seed_models("paper")).iterdir()) == [
        "seed_0.dct_stats.npz",
        "seed_0.keras",
        "seed_0.threshold.json",
    ]
    model = keras.saving.load_model(cluster_root / paths.detector_model("paper"), safe_mode=True)
    assert model.name == "paper"
    cluster, single = val_accuracy(cluster_root), val_accuracy(single_root)
    assert cluster >= 0.8
    assert abs(cluster - single) <= 0.05, (cluster, single)
    # The first epoch (same initial weights, same rows in each global batch) matches to float rounding;
    # later epochs visit the rows in another reshuffled order than Keras' fit does, so only accuracy is compared.
    for curve in ("train/loss.tsv", "eval/loss.tsv"):
        first_epoch = [
            first_loss(root / paths.train_curves("paper") / "seed_0" / curve) for root in (cluster_root, single_root)
        ]
        np.testing.assert_allclose(*first_epoch, rtol=1e-5)

    # The attributor trains on the cluster too; only the chief writes it, as one process would.
    run_cluster_and_single(cluster_root, single_root, "train_attribution")
    for root in (cluster_root, single_root):
        assert sorted(path.name for path in (root / paths.ATTRIBUTORS).iterdir()) == [
            "paper",
            "paper.classes.json",
            "paper.dct_stats.npz",
            "paper.keras",
        ]
    attributors = [
        keras.saving.load_model(root / paths.attributor_model("paper"), safe_mode=True)
        for root in (cluster_root, single_root)
    ]
    assert [model.output_shape for model in attributors] == [(None, len(paths.SOURCES))] * 2


def first_loss(curve: Path) -> float:
    """The first epoch's loss in a dvclive curve (step, loss)."""
    return float(curve.read_text().splitlines()[1].split("\t")[1])
