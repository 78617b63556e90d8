"""Editor-added example questions and topics become Rasa training data, and change the bot."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from bot.content.loader import load_content
from bot.content.training import HEADER, TrainingDataError, generate
from bot.settings import PROJECT_ROOT
from tools.model import RASA_DIR, train
from tools.stack import Stack, running_stack

# Cached across runs like the main model (by data hash), so only a changed project retrains.
EDITOR_MODELS = RASA_DIR / "models" / "editor-test"
NEW_TOPIC = "visa_fees"
NEW_TOPIC_TEXTS = {
    "en": "Visa fees are paid to the embassy or its official visa centre, never to a recruiter.",
    "pt": "As taxas de visto pagam-se à embaixada ou ao centro de vistos, nunca a um recrutador.",
    "es": "Las cuotas de visa se pagan a la embajada o a su centro oficial, nunca a un reclutador.",
}
NEW_TOPIC_EXAMPLES = {
    "en": [
        "how much is the fee for a visa",
        "what does a visa cost",
        "who do I pay the visa fee to",
        "how much money for the visa",
        "visa price",
        "is the visa fee paid to the embassy",
        "the visa costs how much",
        "where do I pay for the visa",
    ],
    "pt": [
        "quanto custa o visto",
        "qual é a taxa do visto",
        "a quem pago a taxa do visto",
        "quanto dinheiro para o visto",
        "preço do visto",
        "onde se paga o visto",
        "o visto custa quanto",
        "a taxa do visto paga-se na embaixada",
    ],
    "es": [
        "cuánto cuesta la visa",
        "cuál es la cuota de la visa",
        "a quién le pago la visa",
        "cuánto dinero para la visa",
        "precio de la visa",
        "dónde se paga la visa",
        "la visa cuesta cuánto",
        "la cuota de la visa se paga en la embajada",
    ],
}


def rasa_copy(target: Path) -> Path:
    """A copy of the Rasa project's inputs (no models, no generated files)."""
    target.mkdir(parents=True)
    for name in ("config.yml", "requirements.lock", "credentials.yml", "endpoints.yml"):
        shutil.copyfile(RASA_DIR / name, target / name)
    shutil.copytree(RASA_DIR / "channels", target / "channels")
    shutil.copytree(RASA_DIR / "classifiers", target / "classifiers")
    (target / "domain").mkdir()
    shutil.copyfile(RASA_DIR / "domain" / "base.yml", target / "domain" / "base.yml")
    (target / "data").mkdir()
    shutil.copytree(RASA_DIR / "data" / "nlu", target / "data" / "nlu")
    shutil.copyfile(RASA_DIR / "data" / "rules.yml", target / "data" / "rules.yml")
    return target


def add_examples(content: Path, topic: str, language: str, examples: list[str]) -> None:
    """Append example questions to one answer file, as an editor would."""
    path = content / "topics" / topic / f"{language}.yml"
    data = yaml.safe_load(path.read_text())
    lines = "".join(f"  - {e}\n" for e in examples)
    if "examples" in data:
        text = path.read_text().replace("examples:\n", f"examples:\n{lines}", 1)
    else:
        text = path.read_text().rstrip("\n") + f"\nexamples:\n{lines}"
    path.write_text(text)


def add_new_topic(content: Path) -> None:
    """A whole new topic written by an editor: a folder, three answers, example questions."""
    folder = content / "topics" / NEW_TOPIC
    folder.mkdir()
    hashes = {}
    for language in ("en", "pt", "es"):
        path = folder / f"{language}.yml"
        body = f"text: |\n  {NEW_TOPIC_TEXTS[language]}\n"
        body += "buttons:\n  - title: Documents\n    payload: documents\n"
        path.write_text(body)
        add_examples(content, NEW_TOPIC, language, NEW_TOPIC_EXAMPLES[language])
        hashes[language] = path
    snapshot, _ = load_content(content)
    assert snapshot is not None
    source = snapshot.answers[(NEW_TOPIC, "en")].words_hash
    for language in ("pt", "es"):
        with hashes[language].open("a") as handle:
            handle.write(f"translated_from: {source}\n")


def test_examples_become_nlu_data_marked_as_generated(tmp_path: Path, content_copy: Path) -> None:
    """Each language's examples land in data/content/<language>.yml under the topic's intent."""
    rasa = rasa_copy(tmp_path / "rasa")
    add_examples(content_copy, "blue_heart", "pt", ["posso usar o coração azul no meu perfil"])
    result = generate(content_copy, rasa)
    text = (rasa / "data/content/pt.yml").read_text()
    assert text.startswith(HEADER)
    data = yaml.safe_load(text)
    blocks = {b["intent"]: b["examples"] for b in data["nlu"]}
    assert "- posso usar o coração azul no meu perfil" in blocks["blue_heart"]
    assert result.examples["pt"] >= 4  # the shipped job_offer_check examples are there too
    assert result.new_topics == ("safety_plan",)  # the one topic editors added so far


def test_a_new_topic_gets_an_intent_a_reply_and_a_rule(tmp_path: Path, content_copy: Path) -> None:
    """No YAML in rasa_project/ is written by hand for a new topic: it is generated."""
    rasa = rasa_copy(tmp_path / "rasa")
    add_new_topic(content_copy)
    assert NEW_TOPIC in generate(content_copy, rasa).new_topics
    domain = yaml.safe_load((rasa / "domain/content.yml").read_text())
    assert NEW_TOPIC in domain["intents"]
    assert domain["responses"][f"utter_{NEW_TOPIC}"] == [{"custom": {"topic": NEW_TOPIC}}]
    rules = yaml.safe_load((rasa / "data/content/rules.yml").read_text())["rules"]
    assert [{"intent": NEW_TOPIC}, {"action": f"utter_{NEW_TOPIC}"}] in [r["steps"] for r in rules]


def test_removed_examples_remove_their_generated_files(tmp_path: Path, content_copy: Path) -> None:
    """Generated data follows content/: no stale examples stay behind in rasa_project/."""
    rasa = rasa_copy(tmp_path / "rasa")
    add_new_topic(content_copy)
    generate(content_copy, rasa)
    shutil.rmtree(content_copy / "topics" / NEW_TOPIC)
    generate(content_copy, rasa)
    assert NEW_TOPIC not in (rasa / "data/content/rules.yml").read_text()
    assert NEW_TOPIC not in yaml.safe_load((rasa / "domain/content.yml").read_text())["intents"]
    for path in (content_copy / "topics").glob("*/*.yml"):  # no examples left anywhere
        text = path.read_text()
        path.write_text(text.split("\nexamples:\n")[0] + "\n" if "\nexamples:\n" in text else text)
    generate(content_copy, rasa)
    assert not (rasa / "data/content/rules.yml").exists()
    assert not list((rasa / "data/content").glob("*.yml"))
    assert "intents" not in yaml.safe_load((rasa / "domain/content.yml").read_text())


def test_an_example_that_teaches_another_intent_is_refused(
    tmp_path: Path, content_copy: Path
) -> None:
    """A question already taught as another topic stops training with the file to fix."""
    rasa = rasa_copy(tmp_path / "rasa")
    add_examples(content_copy, "blue_heart", "en", ["hello"])
    with pytest.raises(TrainingDataError, match=r"blue_heart/en.yml.*'hello'.*'welcome'"):
        generate(content_copy, rasa)


def test_examples_on_topics_the_model_does_not_answer_are_errors(content_copy: Path) -> None:
    """emergency comes from the safety check, not the model: its examples are refused."""
    add_examples(content_copy, "emergency", "en", ["help me"])
    add_examples(content_copy, "rights", "es", ["tengo derecho a un contrato"])
    add_examples(content_copy, "documents", "es", ["tengo derecho a un contrato"])
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    messages = [p.format(content_copy) for p in problems if not p.warning]
    assert any(
        "emergency/en.yml" in m and "takes no `examples:`" in m and "content/safety" in m
        for m in messages
    )
    assert any("is also an example of" in m for m in messages)


def test_a_bad_topic_folder_name_is_refused(content_copy: Path) -> None:
    """Topic ids are lower-case words with _: a folder named 'Visa Fees' is an error."""
    (content_copy / "topics" / "Visa Fees").mkdir()
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    assert any("'Visa Fees' is not a usable topic id" in p.message for p in problems)


# --- the real thing: retrain Rasa with the editor's additions and ask it -----------------

PROBE = {
    "language": "es",
    "topic": "safe_migration",
    "text": "la coyota me pide la mitad antes de cruzar",
}
PROBE_EXAMPLES = [
    "el coyote me pide la mitad del pago antes de cruzar",
    "la coyota quiere que le pague antes de pasar la frontera",
    "cuánto se le paga al coyote y cuándo",
    "es seguro pagarle al pollero por adelantado",
    "me cobran la mitad antes de cruzar y la otra mitad al llegar",
    "el pollero quiere todo el dinero antes del viaje",
]


@pytest.fixture(scope="session")
def editor_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    """Rasa retrained (cached by data hash) on content/ plus an editor's questions and topic."""
    work = tmp_path_factory.mktemp("editor")
    content = work / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    add_examples(content, PROBE["topic"], PROBE["language"], PROBE_EXAMPLES)
    add_new_topic(content)
    rasa = rasa_copy(work / "rasa")
    model = train(rasa, content, EDITOR_MODELS)
    with running_stack(work / "stack", content_dir=content, model=model) as stack:
        yield stack, content


def ask(stack: Stack, user: str, text: str) -> dict[str, object]:
    """One first message through the web API; the reply body."""
    response = httpx.post(
        f"{stack.base_url}/api/web/messages", json={"user_id": user, "text": text}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


def first_topic(body: dict[str, object]) -> str:
    """The topic of the first reply."""
    replies = body["replies"]
    assert isinstance(replies, list)
    return str(replies[0]["topic"])


def test_a_new_example_question_changes_what_the_retrained_bot_recognises(
    stack: Stack, editor_stack: tuple[Stack, Path]
) -> None:
    """Before: the shipped model misreads the question. After `make train`: the editor's topic."""
    retrained, _ = editor_stack
    assert first_topic(ask(stack, "probe-before", PROBE["text"])) != PROBE["topic"]
    assert first_topic(ask(retrained, "probe-after", PROBE["text"])) == PROBE["topic"]


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_a_whole_new_topic_is_answered_after_training(
    editor_stack: tuple[Stack, Path], language: str
) -> None:
    """A new folder with answers and examples is recognised and answered with its own words."""
    retrained, _ = editor_stack
    question = {
        "en": "how much do I pay for a visa",
        "pt": "quanto é que se paga pelo visto",
        "es": "cuánto hay que pagar por la visa",
    }[language]
    body = ask(retrained, f"new-topic-{language}", question)
    replies = body["replies"]
    assert isinstance(replies, list)
    assert replies[0]["topic"] == NEW_TOPIC
    assert replies[0]["text"] == NEW_TOPIC_TEXTS[language]
    assert [b["payload"] for b in replies[0]["buttons"]] == ["documents"]


def test_an_answer_edit_shows_in_the_next_reply_without_retraining(
    editor_stack: tuple[Stack, Path],
) -> None:
    """Words are content, not training data: editing the new topic's answer needs no retrain."""
    retrained, content = editor_stack
    path = content / "topics" / NEW_TOPIC / "en.yml"
    path.write_text(path.read_text().replace("never to a recruiter", "never to an agent"))
    texts = []
    for attempt in range(20):  # the gateway looks for edits every half second
        reply = ask(retrained, f"edit-after-{attempt}", "what does a visa cost")["replies"]
        assert isinstance(reply, list)
        texts.append(reply[0]["text"])
        if texts[-1].endswith("never to an agent."):
            break
        time.sleep(0.25)
    assert texts[-1].endswith("never to an agent."), texts
