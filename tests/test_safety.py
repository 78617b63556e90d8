"""Safety phrases: what escalates before the language model, and what must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.loader import load_content
from bot.content.model import ContentSnapshot
from bot.safety import PhraseMatcher, SafetyKind, check_message
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def snapshot() -> ContentSnapshot:
    loaded, problems = load_content(PROJECT_ROOT / "content")
    assert loaded is not None, problems
    return loaded


def test_phrases_match_whole_words_ignoring_case_accents_and_punctuation() -> None:
    """ "Não me deixam sair!" matches `nao me deix* sair`; "helpme" does not match "help me"."""
    matcher = PhraseMatcher(["nao me deix* sair", "help me", "i * locked in"])
    assert matcher.search("Não me DEIXAM sair!!") == "nao me deix* sair"
    assert matcher.search("i am being locked in") == "i * locked in"
    assert matcher.search("i locked in the price") == "i * locked in"
    assert matcher.search("helpme") is None
    assert matcher.search("whelp meadow") is None


def test_the_wildcard_spans_at_most_three_words() -> None:
    """`*` bridges up to three words, not a whole paragraph."""
    matcher = PhraseMatcher(["took * passport"])
    assert matcher.search("they took my old passport")
    assert matcher.search("took one two three passport")
    assert matcher.search("took one two three four passport") is None


def test_alone_phrases_fire_only_in_short_non_questions() -> None:
    """ "help me!" escalates; "can you help me find a visa?" does not."""
    matcher = PhraseMatcher([], alone=["help me", "sos"])
    assert matcher.search("help me") == "help me"
    assert matcher.search("please help me now!!") == "help me"
    assert matcher.search("SOS") == "sos"
    assert matcher.search("can you help me find a visa") is None
    assert matcher.search("help me?") is None
    assert matcher.search("vos sos un bot?") is None


def test_one_word_cries_must_stand_alone() -> None:
    """ "HELP" and "help help" escalate; "help numbers" and "emergency contacts" do not."""
    matcher = PhraseMatcher([], alone=["help", "emergency", "help me"])
    assert matcher.search("HELP") == "help"
    assert matcher.search("help help help!!") == "help"
    assert matcher.search("emergency") == "emergency"
    assert matcher.search("help numbers") is None
    assert matcher.search("emergency contacts please") is None
    assert matcher.search("help me now please") == "help me"


CRIES = [
    ("en", "they took my passport and won't let me leave"),
    ("en", "HELP ME"),
    ("en", "im locked in a room"),
    ("en", "i want to kill myself"),
    ("pt", "socorro"),
    ("pt", "tiraram o meu passaporte e nao me deixam sair"),
    ("pt", "estou trancada no quarto"),
    ("pt", "vao me matar"),
    ("es", "auxilio"),
    ("es", "me quitaron mi pasaporte y no me dejan salir"),
    ("es", "nos tienen encerrados"),
    ("es", "me quiero morir"),
]


@pytest.mark.parametrize(("language", "text"), CRIES)
def test_cries_for_help_escalate_as_distress(
    snapshot: ContentSnapshot, language: str, text: str
) -> None:
    """The editors' phrases catch clear distress in each language."""
    hit = check_message(text, snapshot.distress, snapshot.request_human)
    assert hit is not None and hit.kind is SafetyKind.DISTRESS


ORDINARY = [
    "what are the signs someone had their passport taken?",
    "can my employer keep my passport?",
    "is it legal to lock workers in at night?",
    "can you help me find a visa for south africa?",
    "how do traffickers control their victims?",
    "o patrao pode ficar com o meu passaporte?",
    "quais sao os sinais de que alguem tem o passaporte retido?",
    "el patron puede quedarse con mi pasaporte?",
    "cuales son las señales de que alguien tiene el pasaporte retenido?",
    "numeros de ayuda porfa",
    "numbers for help",
    "emergency numbers",
    "primeros socorros",
    "vos sos un bot?",
    "what is a trafficked person",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_with_danger_words_do_not_escalate(
    snapshot: ContentSnapshot, text: str
) -> None:
    """Questions about danger are answered, not sent to a caseworker."""
    assert check_message(text, snapshot.distress, snapshot.request_human) is None


@pytest.mark.parametrize(
    "text", ["I want to talk to a person", "quero falar com uma pessoa", "pasame con un humano"]
)
def test_asking_for_a_person_is_a_request(snapshot: ContentSnapshot, text: str) -> None:
    """Asking for a human is a request, not distress."""
    hit = check_message(text, snapshot.distress, snapshot.request_human)
    assert hit is not None and hit.kind is SafetyKind.REQUEST


def test_no_safety_phrase_fires_on_an_ordinary_training_example(
    snapshot: ContentSnapshot,
) -> None:
    """Across every NLU example that is not distress or a request, no phrase fires."""
    import yaml

    fired = []
    for path in sorted((PROJECT_ROOT / "rasa_project" / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            if block["intent"] in ("distress", "request_human"):
                continue
            for line in block["examples"].splitlines():
                text = line.strip()[2:]
                if text and check_message(text, snapshot.distress, snapshot.request_human):
                    fired.append((path.name, block["intent"], text))
    assert fired == []


def test_every_language_has_safety_phrases(snapshot: ContentSnapshot) -> None:
    """Safety works in every language: each file contributes phrases."""
    for language in ("en", "pt", "es"):
        path = Path(PROJECT_ROOT / "content" / "safety" / f"{language}.yml")
        assert path.read_text().count("\n  - ") > 50
    assert len(snapshot.distress) > 200 and len(snapshot.request_human) > 60
