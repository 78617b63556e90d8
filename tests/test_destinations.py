"""Destinations: the spellings people use, facts only for countries we cover, help by country."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.content.loader import load_content
from bot.places import mentioned_country
from bot.settings import PROJECT_ROOT
from tests.factories import App, build_app, message

SNAPSHOT, _ = load_content(PROJECT_ROOT / "content")
assert SNAPSHOT is not None

SPELLINGS = {
    "ZA": [
        "Joburg",
        "Jozi",
        "África do Sul",
        "Africa do sul",
        "Sudáfrica",
        "sudafrica",
        "Johannesburg",
    ],
    "US": ["EUA", "EEUU", "Estados Unidos", "EE. UU.", "EE.UU.", "USA", "el otro lado"],
    "MX": ["México", "Mexico", "Tapachula", "CDMX"],
    "MZ": ["Moçambique", "Mozambique", "Maputo"],
    "PT": ["Portugal", "Lisboa"],
}


@pytest.mark.parametrize(
    ("code", "spelling"), [(code, s) for code, names in SPELLINGS.items() for s in names]
)
def test_country_names_are_recognised_as_people_write_them(code: str, spelling: str) -> None:
    """ "quero ir para Jozi", "trabajo en EE. UU.": the country, whatever the spelling."""
    sentence = f"I want to work in {spelling} next year"
    assert mentioned_country(sentence, SNAPSHOT.country_names) == code


def test_an_unrelated_sentence_names_no_country() -> None:
    """Ordinary words are not taken for a country."""
    assert mentioned_country("what is a fair contract?", SNAPSHOT.country_names) is None


@pytest.fixture
def app(sqlite_url: str, content_copy: Path) -> App:
    """The gateway; Rasa (faked) reads every typed message as a destination question."""
    built = build_app(sqlite_url, content_copy)
    built.rasa.route = lambda said: said[1:] if said.startswith("/") else "destination_info"
    return built


async def ask(app: App, user: str, text: str) -> dict[str, Any]:
    """A first message through the web API; its first reply."""
    async with app.client() as client:
        response = await client.post("/api/web/messages", json=message(user, text))
    assert response.status_code == 200
    reply: dict[str, Any] = response.json()["replies"][0]
    return reply


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("language", "text", "fact"),
    [
        ("en", "can I go to work in Jozi with my passport", "30 days"),
        ("pt", "posso ir trabalhar na África do Sul só com o passaporte", "30 dias"),
        ("es", "puedo trabajar en Sudáfrica con mi pasaporte de Mozambique", "30 días"),
    ],
)
async def test_south_africa_facts_say_the_30_day_exemption_is_not_for_work(
    app: App, language: str, text: str, fact: str
) -> None:
    """The visa exemption for Mozambicans is there, and that it does not allow work."""
    reply = await ask(app, f"za-{language}", text)
    assert reply["topic"] == "destination_info"
    assert fact in reply["text"]
    assert any(word in reply["text"] for word in ("NOT", "NÃO", "NO "))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "con la tarjeta de visitante regional puedo trabajar en Tapachula?"),
        ("en", "can I work in Mexico with the regional visitor card"),
    ],
)
async def test_the_mexican_regional_visitor_card_allows_no_paid_work(
    app: App, language: str, text: str
) -> None:
    """TVR: free, southern states only, and NO paid work."""
    reply = await ask(app, f"mx-{language}", text)
    assert "TVR" in reply["text"] and "NO" in reply["text"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("they offer me work in Dubai, what should I know", "I do not have checked facts"),
        ("ofereceram-me trabalho no Qatar, é seguro?", "Ainda não tenho informação"),
        ("me ofrecen trabajo en Canadá, qué debo saber", "Todavía no tengo información"),
    ],
)
async def test_an_unknown_country_gets_general_advice_and_the_offer_of_a_person(
    app: App, text: str, words: str
) -> None:
    """No facts for Dubai: general advice, never another country's facts, and a person."""
    reply = await ask(app, f"other-{words[:4]}", text)
    assert reply["topic"] == "destination_other"
    assert reply["text"].startswith(words)
    assert "human_handoff" in [b["payload"] for b in reply["buttons"]]


@pytest.mark.anyio
async def test_a_person_can_ask_for_another_countrys_help_numbers(app: App) -> None:
    """Named country first (Mozambique), then Mexico's numbers when they ask for them."""
    app.rasa.route = lambda said: said[1:] if said.startswith("/") else "help_contacts"
    async with app.client() as client:
        first = await client.post(
            "/api/web/messages", json=message("asker", "números de ajuda em Moçambique")
        )
        second = await client.post(
            "/api/web/messages", json=message("asker", "e os números no México?")
        )
    assert "116" in first.json()["replies"][0]["text"]
    mexico = second.json()["replies"][0]["text"]
    assert "800 5533 000" in mexico and "116" not in mexico


@pytest.mark.parametrize(
    ("sentence", "code"),
    [
        ("sou de Moçambique e estou na África do Sul", "ZA"),
        ("puedo trabajar en Sudáfrica con mi pasaporte de Mozambique", "ZA"),
        ("I am from Mexico", "MX"),
    ],
)
def test_where_someone_is_or_goes_wins_over_where_they_come_from(sentence: str, code: str) -> None:
    """ "from Mozambique … in South Africa": the answer is about South Africa."""
    assert mentioned_country(sentence, SNAPSHOT.country_names) == code


@pytest.mark.parametrize(
    ("sentence", "code"),
    [
        ("Soy de Honduras y estoy en la Ciudad de México", "MX"),
        ("Soy de Guatemala, ahora vivo en el estado de Chiapas", "MX"),
        ("I live in Mozambique and want to go to Portugal", "PT"),
    ],
)
def test_de_inside_a_place_name_is_not_where_someone_comes_from(sentence: str, code: str) -> None:
    """ "Ciudad de México" is a place, not an origin; the place named last wins."""
    assert mentioned_country(sentence, SNAPSHOT.country_names) == code


@pytest.mark.anyio
async def test_a_covered_country_where_someone_is_beats_an_uncovered_origin(app: App) -> None:
    """ "from Zimbabwe … in Johannesburg": South Africa's facts, not the no-facts answer."""
    reply = await ask(
        app,
        "from-zw",
        "I came from Zimbabwe and now I live in Johannesburg. What should I know about work?",
    )
    assert reply["topic"] == "destination_info"
    assert "30 days" in reply["text"]
