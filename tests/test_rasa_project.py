"""The Rasa project is consistent: it validates clean and every reply maps to content."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.topics import ALL_TOPICS, INTENT_TO_TOPIC
from tools.model import RASA_BIN, RASA_DIR

DOMAIN = yaml.safe_load((RASA_DIR / "domain" / "base.yml").read_text())


def test_rasa_data_validate_runs_clean(tmp_path: Path) -> None:
    """`rasa data validate --fail-on-warnings` passes on the training data and domain."""
    result = subprocess.run(
        [str(RASA_BIN), "data", "validate", "--domain", "domain", "--fail-on-warnings"],
        cwd=RASA_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        },
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def engine_check(script: str, home: Path, timeout: float) -> dict[str, Any]:
    """Run a tests/engine script with the engine's Python 3.10; the JSON facts it prints last."""
    result = subprocess.run(
        [str(RASA_BIN.parent / "python"), str(Path(__file__).parent / "engine" / script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    facts: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return facts


def test_the_tfidf_classifier_answers_the_same_after_storing_and_loading(tmp_path: Path) -> None:
    """The custom classifier, trained through Rasa's own featurizers, stored and loaded back,
    ranks every probe as before, with sklearn's own probabilities summing to one."""
    facts = engine_check("tfidf_classifier_check.py", tmp_path, timeout=300)
    assert facts["intents"][:3] == ["documents", "warning_signs", "distress"]
    assert facts["same_after_loading"] is True
    assert facts["max_difference_from_sklearn"] < 1e-9
    assert all(abs(total - 1.0) < 1e-9 for total in facts["ranking_sums"])


def test_a_reply_is_not_lost_when_the_gateway_closes_an_idle_connection(tmp_path: Path) -> None:
    """Rasa's NLG sends a reply's request again when the kept-alive connection it used broke
    (the gateway closed it while Rasa was busy), so the person gets the answer, not "I did
    not understand"; a dropped request is asked twice at most and a slow one once."""
    facts = engine_check("nlg_connection_check.py", tmp_path, timeout=120)
    # Each of the three replies after an idle spell reused a connection the server had
    # closed: every one is answered, on a new connection.
    assert facts["idle_close"] == {"answered": [True, True, True, True], "connections": 4}
    assert facts["dropped"]["answered"] is False
    assert facts["dropped"]["requests"] == 2
    assert facts["stalled"]["answered"] is False
    assert facts["stalled"]["requests"] == 1
    assert facts["stalled"]["seconds"] < 2 * facts["timeout_seconds"]


def test_every_intent_has_a_topic_and_every_response_names_one() -> None:
    """Intents map to topic ids; domain responses carry a topic id and no text."""
    assert set(DOMAIN["intents"]) <= set(INTENT_TO_TOPIC)
    for name, variants in DOMAIN["responses"].items():
        assert name.startswith("utter_")
        for variant in variants:
            assert set(variant) == {"custom"}
            assert variant["custom"]["topic"] == name.removeprefix("utter_")
            assert variant["custom"]["topic"] in ALL_TOPICS


def test_every_intent_has_at_least_25_examples_in_each_language() -> None:
    """The issue's floor: 25 varied examples per intent per language."""
    for language in ("en", "pt", "es"):
        data = yaml.safe_load((RASA_DIR / "data" / "nlu" / f"{language}.yml").read_text())
        counts = {
            block["intent"]: sum(1 for line in block["examples"].splitlines() if line.strip())
            for block in data["nlu"]
        }
        assert set(counts) == set(DOMAIN["intents"]), language
        assert min(counts.values()) >= 25, (language, counts)


def test_no_example_starts_with_a_slash() -> None:
    """A leading slash would be an intent name to Rasa, not text."""
    for path in (RASA_DIR / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            assert not any(
                line.strip().startswith("- /") for line in block["examples"].splitlines()
            ), path


def labelled_texts(folder: str) -> list[str]:
    """The example texts of tests/data/<folder>/*.yml (held-out or tuning set)."""
    directory = RASA_DIR.parent / "tests" / "data" / folder
    return [
        str(example["text"])
        for path in sorted(directory.glob("*.yml"))
        for example in yaml.safe_load(path.read_text())["examples"]
    ]


@pytest.mark.parametrize("folder", ["eval", "dev"])
def test_the_evaluation_sets_are_not_in_the_training_data(folder: str) -> None:
    """`make eval` measures generalisation: no held-out or tuning text is a training example."""
    from bot.text import fold

    training = set()
    for path in (RASA_DIR / "data").rglob("*.yml"):
        if "nlu" not in (data := yaml.safe_load(path.read_text())):
            continue
        for block in data["nlu"]:
            training |= {fold(line.strip()[2:]) for line in block["examples"].splitlines()}
    texts = labelled_texts(folder)
    assert len(texts) > 500
    assert [text for text in texts if fold(text) in training] == []


def test_the_tuning_set_shares_no_text_with_the_held_out_set() -> None:
    """The set that chooses the threshold is not the set that judges it."""
    from bot.text import fold

    held_out = {fold(text) for text in labelled_texts("eval")}
    assert [text for text in labelled_texts("dev") if fold(text) in held_out] == []
