"""Classification arithmetic: accuracy, confusion matrix, per-label and macro F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Pair = tuple[str, str]  # (expected, predicted)


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one label, with its support (expected count)."""

    precision: float
    recall: float
    f1: float
    support: int


def accuracy(pairs: Sequence[Pair]) -> float:
    """The share of pairs whose prediction equals the expectation (0 for no pairs)."""
    return sum(1 for expected, got in pairs if expected == got) / len(pairs) if pairs else 0.0


def label_scores(pairs: Sequence[Pair], labels: Iterable[str]) -> dict[str, LabelScore]:
    """Precision, recall and F1 of each label (0 where undefined, as scikit-learn does)."""
    expected = Counter(e for e, _ in pairs)
    predicted = Counter(g for _, g in pairs)
    correct = Counter(e for e, g in pairs if e == g)
    scores: dict[str, LabelScore] = {}
    for label in labels:
        tp = correct[label]
        precision = tp / predicted[label] if predicted[label] else 0.0
        recall = tp / expected[label] if expected[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = LabelScore(precision, recall, f1, expected[label])
    return scores


def reference_labels(pairs: Sequence[Pair], order: Sequence[str] = ()) -> list[str]:
    """The expected labels, in `order` first and then alphabetically."""
    present = {e for e, _ in pairs}
    return ordered(present, order)


def ordered(labels: Iterable[str], order: Sequence[str] = ()) -> list[str]:
    """Labels sorted by their place in `order`, unknown ones after it alphabetically."""
    rank = {label: i for i, label in enumerate(order)}
    return sorted(set(labels), key=lambda label: (rank.get(label, len(rank)), label))


def macro_f1(pairs: Sequence[Pair], labels: Sequence[str] | None = None) -> float:
    """The unweighted mean F1 over `labels` (default: every expected label).

    A prediction of a label outside `labels` counts only against the expected label's
    recall, like scikit-learn's f1_score(average="macro", labels=...).
    """
    labels = list(labels) if labels is not None else reference_labels(pairs)
    if not labels:
        return 0.0
    scores = label_scores(pairs, labels)
    return sum(scores[label].f1 for label in labels) / len(labels)


@dataclass(frozen=True)
class Confusion:
    """A confusion matrix: rows are expected labels, columns predicted labels."""

    rows: list[str]
    columns: list[str]
    counts: list[list[int]]

    def count(self, expected: str, predicted: str) -> int:
        """How often `expected` was predicted as `predicted`."""
        return self.counts[self.rows.index(expected)][self.columns.index(predicted)]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {"rows": self.rows, "columns": self.columns, "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Confusion:
        """Read the form written by to_json."""
        rows, columns, counts = data["rows"], data["columns"], data["counts"]
        assert isinstance(rows, list) and isinstance(columns, list) and isinstance(counts, list)
        return cls([str(r) for r in rows], [str(c) for c in columns], counts)


def confusion(pairs: Sequence[Pair], order: Sequence[str] = ()) -> Confusion:
    """Confusion matrix: expected labels as rows; as columns the same, then predicted-only ones."""
    rows = reference_labels(pairs, order)
    columns = rows + ordered({g for _, g in pairs} - set(rows), order)
    counts = Counter(pairs)
    return Confusion(rows, columns, [[counts[(r, c)] for c in columns] for r in rows])
