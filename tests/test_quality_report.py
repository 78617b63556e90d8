"""The quality report's arithmetic, from small recorded inputs (no training, no server).

tests/data/quality/ holds a tiny cross-validation output in Rasa's format (written with
scikit-learn's classification_report, whose macro-F1 the expected figures below match),
the tiny training files it came from, and a few held-out records.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tools.quality import crossval, document
from tools.quality.heldout import Record, simulation_mismatches, summarise, sweep
from tools.quality.metrics import accuracy, confusion, label_scores, macro_f1
from tools.quality.plots import confusion_png

DATA = Path(__file__).parent / "data" / "quality"


def records() -> list[Record]:
    return [Record(**r) for r in json.loads((DATA / "heldout-records.json").read_text())]


def test_macro_f1_is_the_plain_mean_of_each_labels_f1() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "a")]
    scores = label_scores(pairs, ["a", "b", "c"])
    # a: precision 1/2, recall 1/2; b: precision 1/2, recall 1; c: never right.
    assert scores["a"].f1 == pytest.approx(0.5)
    assert scores["b"].f1 == pytest.approx(2 / 3)
    assert scores["c"].f1 == 0.0
    assert scores["a"].support == 2
    assert macro_f1(pairs) == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)
    assert accuracy(pairs) == 0.5


def test_a_label_only_ever_predicted_does_not_enter_the_macro_average() -> None:
    pairs = [("a", "a"), ("a", "x")]
    assert macro_f1(pairs) == pytest.approx(2 / 3)  # only `a`: precision 1, recall 1/2
    assert macro_f1(pairs, ["a", "x"]) == pytest.approx(1 / 3)


def test_confusion_rows_are_expected_and_the_diagonal_is_right_answers() -> None:
    pairs = [("b", "b"), ("b", "x"), ("a", "a"), ("a", "b"), ("a", "a")]
    matrix = confusion(pairs, order=("b", "a"))
    assert matrix.rows == ["b", "a"]
    assert matrix.columns == ["b", "a", "x"]  # predicted-only labels come last
    assert matrix.counts == [[1, 0, 1], [1, 2, 0]]
    assert matrix.count("a", "b") == 1
    assert sum(matrix.counts[i][i] for i in range(2)) == 3  # = right answers
    assert type(matrix).from_json(matrix.to_json()) == matrix


def test_crossval_predictions_are_split_by_the_language_of_their_training_file() -> None:
    results = crossval.score(DATA / "crossval", folds=5, data_dir=DATA / "data")
    en, pt = results["languages"]["en"], results["languages"]["pt"]
    # `bye` is an example in both files: Rasa predicted it once, it counts in each.
    assert results["shared_texts"] == 1
    assert (en["examples"], pt["examples"]) == (6, 5)
    assert en["accuracy"] == pytest.approx(5 / 6)
    assert pt["accuracy"] == pytest.approx(3 / 5)
    # Same as sklearn's f1_score(average="macro", labels=<the expected intents>).
    assert en["macro_f1"] == pytest.approx(0.9166667)
    assert pt["macro_f1"] == pytest.approx(0.5)
    assert en["distress_recall"] == [1, 2]
    assert pt["false_escalations"] == [1, 4]  # the embassy question taken for distress
    assert en["false_escalations"] == [0, 4]
    # Over the distinct sentences, our accuracy is Rasa's own.
    assert results["examples"] == 10
    assert results["accuracy"] == pytest.approx(results["rasa_accuracy"])
    assert results["rasa_accuracy"] == pytest.approx(0.7)


def test_en_confusion_of_the_recorded_crossval() -> None:
    results = crossval.score(DATA / "crossval", data_dir=DATA / "data")
    matrix = document.confusion_of(results["languages"]["en"])
    assert matrix.rows == ["welcome", "help_contacts", "goodbye", "distress"]
    assert matrix.columns[-1] == "documents"
    assert matrix.count("distress", "documents") == 1
    assert matrix.count("welcome", "welcome") == 2


def test_a_prediction_from_no_training_file_is_an_error() -> None:
    predictions = [crossval.Prediction("never written", "welcome", "welcome", 1.0)]
    with pytest.raises(ValueError, match="in no training file"):
        crossval.split_by_language(predictions, {"hello": {"en"}})


def test_heldout_summary_of_recorded_records() -> None:
    figures = summarise(records())
    assert figures["examples"] == 9
    # A language request answered by switching (language_set) is right.
    assert figures["topic_correct"] == 6
    assert figures["topic_accuracy"] == pytest.approx(6 / 9)
    # welcome 1, language 1, documents 2/3, rights 0, emergency 0.4, human_handoff 2/3,
    # fallback 1 over 7 expected topics.
    assert figures["macro_f1"] == pytest.approx((1 + 1 + 2 / 3 + 0 + 0.4 + 2 / 3 + 1) / 7)
    # A distress message escalated only as a request is not caught as distress.
    assert figures["distress_recall"] == [1, 2]
    assert figures["request_escalation"] == [1, 1]
    assert figures["false_escalations"] == [2, 6]
    assert figures["false_by_source"] == {"phrase": 1, "engine": 1}
    assert figures["hard_negative_escalations"] == [2, 2]
    assert figures["reply_language"] == [7, 8]  # the language request is not counted


def test_the_threshold_sweep_agrees_with_the_run_and_moves_the_right_way() -> None:
    mine = records()
    assert simulation_mismatches(mine, 0.10) == 0
    rows = {row["threshold"]: row["en"] for row in sweep(mine, (0.05, 0.10, 0.40))}
    assert rows[0.10]["false_escalations"] == [2, 6]
    # 0.40: the passport question (distress score 0.3) no longer escalates and is answered
    # by its top intent (documents, right); the phrase hit still escalates.
    assert rows[0.40]["false_escalations"] == [1, 6]
    assert rows[0.40]["topic_accuracy"] == pytest.approx(7 / 9)
    assert rows[0.40]["distress_recall"] == [1, 2]
    # 0.05: the documents question scored 0.08 now escalates.
    assert rows[0.05]["false_escalations"] == [3, 6]
    assert rows[0.05]["topic_accuracy"] == pytest.approx(5 / 9)


def test_targets_say_by_how_much_they_are_missed() -> None:
    assert document.target_cell(0.888, 0.92, at_least=True) == "0.888 **missed by 0.032**"
    assert document.target_cell(0.95, 0.92, at_least=True) == "0.950 met"
    assert document.target_cell(0.056, 0.03, at_least=False) == "0.056 **missed by 0.026**"
    assert document.target_cell(0.03, 0.03, at_least=False) == "0.030 met"
    assert document.frac([134, 135]) == "0.993 (134/135)"
    assert document.frac([0, 0]) == "n/a (0/0)"


def test_confusion_picture_is_a_png(tmp_path: Path) -> None:
    matrix = confusion([("a", "a"), ("a", "b"), ("b", "b")])
    path = confusion_png(matrix, tmp_path / "m.png", "test")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def pipeline_row(name: str, lowest: float, recall: float, false: int) -> dict[str, object]:
    return {
        "name": name,
        "heldout": {
            "lowest_accuracy": lowest,
            "lowest_distress_recall": recall,
            "false_escalations": [false, 100],
        },
    }


def test_the_kept_pipeline_must_catch_distress_before_it_may_be_more_accurate() -> None:
    from tools.quality.choice import ranking_key, verdict

    rows = [
        pipeline_row("sharp", 0.95, 0.98, 1),  # most accurate, but misses distress
        pipeline_row("safe", 0.90, 1.0, 5),
        pipeline_row("safe-tie", 0.90, 0.99, 3),  # same accuracy, fewer false escalations
    ]
    assert [r["name"] for r in sorted(rows, key=ranking_key)] == ["sharp", "safe-tie", "safe"]
    assert verdict(rows, "safe-tie").startswith("`safe-tie` is kept")
    assert verdict(rows, "sharp").startswith("By these numbers `safe-tie` is best")
    assert "none of them" in verdict(rows, None)


def sweep_row(threshold: float, **recall: tuple[int, int]) -> dict[str, object]:
    return {
        "threshold": threshold,
        **{
            lang: {"distress_recall": list(r), "false_escalations": [0, 1], "topic_accuracy": 1.0}
            for lang, r in recall.items()
        },
    }


def test_the_tuning_set_picks_a_threshold_one_step_below_the_first_that_misses() -> None:
    from tools.quality.heldout import choose_threshold

    rows = [
        sweep_row(0.30, en=(60, 60), pt=(59, 60)),  # pt misses one: 0.30 is not safe
        sweep_row(0.10, en=(60, 60), pt=(60, 60)),
        sweep_row(0.20, en=(60, 60), pt=(60, 60)),
        sweep_row(0.40, en=(60, 60), pt=(60, 60)),  # safe again, but past the first miss
        sweep_row(0.25, en=(60, 60), pt=(60, 60)),
    ]
    assert choose_threshold(rows) == 0.20  # 0.25 is the highest safe one; one step of margin
    assert choose_threshold(rows, margin=0) == 0.25
    assert choose_threshold(rows[:2], margin=3) == 0.10  # never below the lowest
    assert choose_threshold([sweep_row(0.05, en=(59, 60))]) is None


def test_the_tuning_section_asks_to_lower_a_threshold_above_the_choice() -> None:
    """The report says whether the gateway runs at half the choice, below it, or too high."""
    dev = {
        "model": "m",
        "distress_threshold": 0.10,
        "chosen_threshold": 0.20,
        "margin_steps": 1,
        "simulation_mismatches": 0,
        "languages": {"en": summarise(records())},
        "sweep": sweep(records(), (0.05, 0.10, 0.15, 0.20)),
    }
    text = "\n".join(document.dev_section(dev))
    assert "chooses **0.20**" in text
    assert "the gateway runs with 0.1, 0.5 of it" in text
    assert "| 0.20 (chosen) |" in text and "| 0.10 (used) |" in text
    dev["distress_threshold"] = 0.05
    assert "below 0.1 (0.5 of it): safe" in "\n".join(document.dev_section(dev))
    dev["distress_threshold"] = 0.15
    assert "set `distress_model_threshold` in `bot/settings.py` to 0.1**" in "\n".join(
        document.dev_section(dev)
    )
    dev["distress_threshold"] = 0.30
    assert "higher than the tuning set allows" in "\n".join(document.dev_section(dev))


def test_the_gateway_runs_at_half_the_tuning_sets_choice_rounded_down_to_a_step() -> None:
    """0.40 gives 0.20, 0.35 gives 0.15 (0.175 rounded down), 0.05 stays 0.05, None stays None."""
    steps = (0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50)
    assert document.gateway_threshold(0.40, steps) == 0.20
    assert document.gateway_threshold(0.35, steps) == 0.15
    assert document.gateway_threshold(0.05, steps) == 0.05
    assert document.gateway_threshold(None, steps) is None


def test_the_gateway_default_threshold_is_the_one_the_tuning_set_gives() -> None:
    """The gateway's default distress threshold is half the tuning set's choice (make eval)."""
    from bot.settings import Settings

    dev = document.load("dev")
    assert dev is not None, "docs/quality/dev.json is missing: run `make eval`"
    default = Settings.__dataclass_fields__["distress_model_threshold"].default
    assert dev["chosen_threshold"] is not None
    steps = [float(row["threshold"]) for row in dev["sweep"]]
    assert default == document.gateway_threshold(dev["chosen_threshold"], steps)
    assert default <= dev["chosen_threshold"]


def test_general_advice_for_an_uncovered_country_answers_a_destination_question() -> None:
    """destination_other replaces destination_info by design; elsewhere it is still wrong."""
    base = records()[0]
    asked = dataclasses.replace(base, intent="destination_info", topic="destination_other")
    assert asked.pair == ("destination_info", "destination_info")
    other = dataclasses.replace(base, intent="documents", topic="destination_other")
    assert other.pair == ("documents", "destination_other")
    switched = dataclasses.replace(base, intent="language", topic="language_set")
    assert switched.pair == ("language", "language")
