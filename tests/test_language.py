"""Language detection: first messages, stickiness, explicit names."""

from __future__ import annotations

import pytest

from bot.language import LanguageDetector, load_chat_samples, named_language
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(samples=load_chat_samples(PROJECT_ROOT / "rasa_project/data/nlu"))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hi, is this job offer real?", "en"),
        ("ola vc pode me ajudar com o visto", "pt"),
        ("o q e trafico de pessoas", "pt"),
        ("oi tudo bem", "pt"),
        ("hola q onda, necesito info de la visa", "es"),
        ("xq me piden dinero para la chamba", "es"),
        ("cuales son mis derechos en estados unidos", "es"),
        ("quais sao os meus direitos na africa do sul", "pt"),
    ],
)
def test_first_messages_are_recognised_as_people_write_them(
    detector: LanguageDetector, text: str, language: str
) -> None:
    """Chat-style text without accents is still recognised."""
    assert detector.choose(text, None, "en") == language


@pytest.mark.parametrize("text", ["ok", "sim", "SOS", "no", "hmm", "👍", "Maputo", "5000"])
def test_short_or_ambiguous_messages_keep_the_current_language(
    detector: LanguageDetector, text: str
) -> None:
    """Nothing short flips an ongoing conversation."""
    for current in ("en", "pt", "es"):
        assert detector.choose(text, current, "en") == current


def test_a_clear_sentence_in_another_language_switches(detector: LanguageDetector) -> None:
    """A full sentence clearly in Spanish moves a Portuguese conversation to Spanish."""
    text = "necesito saber cuales son las señales de la trata de personas"
    assert detector.choose(text, "pt", "en") == "es"


def test_the_chat_style_model_beats_lingua_alone_on_portuguese_without_accents() -> None:
    """The reason for the second detector: accentless Portuguese reads as Spanish to lingua."""
    plain = LanguageDetector()
    both = LanguageDetector(samples=load_chat_samples(PROJECT_ROOT / "rasa_project/data/nlu"))
    texts = [
        "o q e exploracao laboral",
        "tem numero pra denunciar",
        "como funciona o visto de trabalho",
    ]
    assert sum(plain.choose(t, None, "en") == "pt" for t in texts) < len(texts)
    assert all(both.choose(t, None, "en") == "pt" for t in texts)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("em português", "pt"),
        ("in English please", "en"),
        ("español por favor", "es"),
        ("what is trata in english or spanish", None),
        ("hello", None),
    ],
)
def test_named_language(text: str, language: str | None) -> None:
    """Exactly one language named → that language; none or two → no switch."""
    names = {"en": ("english", "ingles"), "pt": ("portugues",), "es": ("espanol", "spanish")}
    assert named_language(text, names) == language
