"""Confusion-matrix pictures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from tools.quality.metrics import Confusion


def confusion_png(
    matrix: Confusion,
    path: Path,
    title: str,
    axes_labels: tuple[str, str] = ("expected", "answered with"),
) -> Path:
    """Draw the matrix into a PNG: colour is the share of the row, the number the count."""
    rows, columns = len(matrix.rows), len(matrix.columns)
    shares = [
        [count / total if (total := sum(row)) else 0.0 for count in row] for row in matrix.counts
    ]
    figure, axes = plt.subplots(figsize=(2.4 + 0.48 * columns, 1.6 + 0.42 * rows), dpi=100)
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for i, row in enumerate(matrix.counts):
        for j, value in enumerate(row):
            if value:
                colour = "white" if shares[i][j] > 0.55 else "black"
                axes.text(j, i, str(value), ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(columns), matrix.columns, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(rows), matrix.rows, fontsize=8)
    axes.set_ylabel(axes_labels[0])
    axes.set_xlabel(axes_labels[1])
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path
