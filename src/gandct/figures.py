"""Matplotlib figures shared by the stages; every figure is written atomically as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt

from gandct.fileio import atomic_path


def save_figure(figure: plt.Figure, path: Path) -> None:
    """Write a figure as a PNG atomically and close it."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(figure)


def plot_training_curves(histories: dict[str, dict[str, list[float]]], path: Path) -> None:
    """Loss and accuracy per epoch, training (dashed) and validation (solid), one colour per model."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index}"
        epochs = range(1, len(history["loss"]) + 1)
        loss_axis.plot(epochs, history["loss"], "--", color=colour, label=f"{name} train")
        loss_axis.plot(epochs, history["val_loss"], "-", color=colour, label=f"{name} val")
        accuracy_axis.plot(epochs, history["accuracy"], "--", color=colour)
        accuracy_axis.plot(epochs, history["val_accuracy"], "-", color=colour)
    loss_axis.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss", yscale="log")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss_axis.legend(fontsize=8)
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
    save_figure(figure, path)
