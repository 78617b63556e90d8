"""What to answer: the plan for one message, from safety phrases, buttons, checks and Rasa.

The conversation router (bot/core.py) stores and sends; this decides. Order of decisions
for one message (safety first, so it works with Rasa down): distress / ask-for-a-person
phrases escalate, whatever the status; with a caseworker, the words are kept for them;
a language switch is confirmed; a guided check's answer, a button payload or a
whole-message command gives its topic; otherwise Rasa picks the topic, and an `emergency`
or `human_handoff` topic, or a distress score reaching DISTRESS_MODEL_THRESHOLD, escalates.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from bot import metrics
from bot.content.answers import valid_payload
from bot.content.checks import GuidedCheck
from bot.content.model import Button, ContentSnapshot
from bot.content.store import ContentStore
from bot.db.models import Conversation, utcnow
from bot.engine import EngineUnavailable, RasaEngine
from bot.guided import Guide, Turn, active_check, parse_payload
from bot.handoff import WITH_CASEWORKER, Escalation, Status, merge_escalation
from bot.language import LanguageDetector, named_language
from bot.messages import InboundMessage, Reply
from bot.places import mentioned_country
from bot.safety import SafetyKind, check_message
from bot.settings import SUPPORTED_LANGUAGES, Settings
from bot.text import fold
from bot.topics import ESCALATING_TOPICS, INTENT_TOPICS

log = logging.getLogger(__name__)

# A message this short that names a language is a request to switch to it.
MAX_WORDS_LANGUAGE_SWITCH = 5
# The country each language's market most likely writes from, when none is named.
MARKET_COUNTRY: dict[str, str | None] = {"pt": "MZ", "es": "MX", "en": None}


@dataclass
class Plan:
    """What to answer: topics in order, and any change to the conversation."""

    topics: list[str] = field(default_factory=list)
    escalation: Escalation | None = None
    escalation_source: str = ""
    engine_replies: list[Reply] = field(default_factory=list)
    erase: bool = False
    # The replies come from a guided check already under way (not a request to open one).
    guided: bool = False
    # Rasa could not be asked: the message waits for it (bot/backlog.py answers it later).
    awaiting_engine: bool = False


_LEADING_SLASHES = re.compile(r"^[\s/]+")


# Rasa reads the start of a very long message (all of it is stored and safety-checked).
MAX_ENGINE_TEXT = 4096


def engine_text(text: str) -> str:
    """Text safe to hand to Rasa: a leading `/` would be read as an intent, so drop them all."""
    return _LEADING_SLASHES.sub("", text).strip()[:MAX_ENGINE_TEXT]


class Decider:
    """Decides the replies to one message and keeps the conversation's language and country."""

    def __init__(
        self,
        settings: Settings,
        content: ContentStore,
        engine: RasaEngine,
        detector: LanguageDetector,
    ) -> None:
        self._settings = settings
        self._content = content
        self._engine = engine
        self._detector = detector

    def apply_language(
        self,
        conversation: Conversation,
        inbound: InboundMessage,
        snapshot: ContentSnapshot,
        is_new: bool,
    ) -> bool:
        """Set the conversation language; True when the person explicitly switched."""
        payload = inbound.payload or ""
        if payload.startswith("lang:") and payload[5:] in snapshot.languages:
            conversation.language = payload[5:]
            return True
        if inbound.text is None:
            return False
        names = {code: (*info.names, info.name) for code, info in snapshot.languages.items()}
        if len(fold(inbound.text).split()) <= MAX_WORDS_LANGUAGE_SWITCH:
            named = named_language(inbound.text, names)
            if named is not None:
                conversation.language = named
                return True
        if not is_new and conversation.language in SUPPORTED_LANGUAGES:
            # A language added in content/ without a detector model stays until changed by name.
            conversation.language = self._detector.choose(
                inbound.text, conversation.language, self._settings.default_language
            )
        return False

    def apply_country(
        self, conversation: Conversation, inbound: InboundMessage, snapshot: ContentSnapshot
    ) -> None:
        """Remember the country a person names (or picks with a button), else their number's."""
        if conversation.country is None and inbound.country_hint in snapshot.country_names:
            conversation.country = inbound.country_hint
        payload = inbound.payload or ""
        if payload.startswith("country:") and payload[8:] in snapshot.country_names:
            conversation.country = payload[8:]
        elif inbound.text is not None:
            country = mentioned_country(inbound.text, snapshot.country_names)
            if country is not None:
                conversation.country = country

    async def plan(
        self,
        conversation: Conversation,
        inbound: InboundMessage,
        snapshot: ContentSnapshot,
        switched: bool,
        backlog: bool,
        flooding: bool = False,
    ) -> Plan:
        """Decide the reply topics and any escalation; a topic that starts a check starts it."""
        plan = await self._decide(conversation, inbound, snapshot, switched, backlog, flooding)
        return self.complete(plan, conversation, inbound.text, snapshot)

    def complete(
        self, plan: Plan, conversation: Conversation, text: str | None, snapshot: ContentSnapshot
    ) -> Plan:
        """A topic that starts a check starts it; facts of an uncovered country give way."""
        if snapshot.checks and not plan.guided:
            self._start_checks(plan, conversation, snapshot)
        if text is not None and mentioned_country(text, snapshot.place_names) == "elsewhere":
            # Facts for a country we do not cover would mislead: general advice instead.
            self._swap_topic(plan, "destination_info", "destination_other", conversation)
        return plan

    def _swap_topic(self, plan: Plan, old: str, new: str, conversation: Conversation) -> None:
        """Answer with topic `new` wherever the plan would answer with `old`."""
        plan.topics = [new if topic == old else topic for topic in plan.topics]
        plan.engine_replies = [
            self.reply(new, conversation) if reply.topic == old else reply
            for reply in plan.engine_replies
        ]

    async def _decide(
        self,
        conversation: Conversation,
        inbound: InboundMessage,
        snapshot: ContentSnapshot,
        switched: bool,
        backlog: bool,
        flooding: bool = False,
    ) -> Plan:
        """Decide the reply topics and any escalation for this message."""
        plan = Plan()
        if inbound.text is not None:
            hit = check_message(inbound.text, snapshot.distress, snapshot.request_human)
            if hit is not None:
                reason = (
                    Escalation.DISTRESS if hit.kind is SafetyKind.DISTRESS else Escalation.REQUEST
                )
                return self._escalation_plan(conversation, reason, "phrase")
        if conversation.status in WITH_CASEWORKER:
            plan.topics = self._waiting_topics(conversation)
            return plan
        if flooding:
            # Over RATE_LIMIT_PER_PERSON a minute: kept, and checked for danger above,
            # but neither sent to Rasa nor answered.
            return plan
        if switched:
            plan.topics = ["language_set"]
            state = conversation.guided_check
            check = active_check(state, snapshot)
            if check is not None and state is not None and not state["paused"]:
                # Switched mid-check: confirm, then ask the open question in the new language.
                guide = Guide(check, snapshot, conversation.language)
                plan.engine_replies = [self.reply("language_set", conversation)]
                plan.engine_replies.append(guide.question(state))
                plan.topics, plan.guided = [], True
            return plan
        if inbound.text is None and inbound.payload is None:
            plan.topics = ["text_only"]
            return plan
        guided = self._guided_turn(conversation, inbound, snapshot)
        if guided is not None:
            return guided
        if inbound.payload is not None:
            return await self._payload_plan(conversation, inbound.payload, snapshot)
        assert inbound.text is not None
        command = snapshot.commands.get(fold(inbound.text))
        if command is not None:
            if command in ESCALATING_TOPICS:
                return self._escalation_plan(
                    conversation, Escalation(ESCALATING_TOPICS[command]), "command"
                )
            plan.topics = [command]
            return plan
        if backlog:
            # Earlier words still wait for the engine: this one waits behind them, in order.
            return Plan(awaiting_engine=True)
        return await self._engine_plan(conversation, engine_text(inbound.text))

    def _guided_turn(
        self, conversation: Conversation, inbound: InboundMessage, snapshot: ContentSnapshot
    ) -> Plan | None:
        """A check's button, or a typed answer to its open question; None for anything else.

        Any other message pauses an open check and is answered as usual.
        """
        state = conversation.guided_check
        check = active_check(state, snapshot)
        if state is not None and check is None:
            conversation.guided_check = state = None  # the check changed under it: start over
        pressed = parse_payload(inbound.payload)
        if pressed is not None:
            check = check or next(iter(snapshot.checks.values()), None)
            if check is None:
                return Plan(topics=["fallback"])
            guide = Guide(check, snapshot, conversation.language)
            return self._apply_turn(conversation, guide.choose(state, *pressed))
        if check is None or state is None or state["paused"] or inbound.text is None:
            return None
        turn = Guide(check, snapshot, conversation.language).typed(state, inbound.text)
        if turn is None:
            conversation.guided_check = {**state, "paused": True}
            return None
        return self._apply_turn(conversation, turn)

    @staticmethod
    def _apply_turn(conversation: Conversation, turn: Turn) -> Plan:
        """Keep the check's new state; its replies come first, then any topics."""
        conversation.guided_check = turn.state
        return Plan(topics=turn.topics, engine_replies=turn.replies, guided=True)

    def _start_checks(
        self, plan: Plan, conversation: Conversation, snapshot: ContentSnapshot
    ) -> None:
        """Replace a check's topic (from Rasa, a button or a command) with the check itself."""
        started: list[Reply] = []
        for reply in plan.engine_replies:
            check = snapshot.checks.get(reply.topic or "")
            started.extend(
                self._open_check(conversation, check, snapshot).replies if check else [reply]
            )
        for topic in list(plan.topics):
            check = snapshot.checks.get(topic)
            if check is not None:
                plan.topics.remove(topic)
                started.extend(self._open_check(conversation, check, snapshot).replies)
        plan.engine_replies = started

    def _open_check(
        self, conversation: Conversation, check: GuidedCheck, snapshot: ContentSnapshot
    ) -> Turn:
        """Start a check, or offer to continue the one left half done."""
        guide = Guide(check, snapshot, conversation.language)
        state = conversation.guided_check
        if active_check(state, snapshot) is check and state is not None and state["answers"]:
            turn = guide.offer_resume(state)
        else:
            turn = guide.start()
        conversation.guided_check = turn.state
        return turn

    def _escalation_plan(self, conversation: Conversation, reason: Escalation, source: str) -> Plan:
        """Escalate (or upgrade) and answer with the matching topic."""
        current = Escalation(conversation.escalation) if conversation.escalation else None
        already = conversation.status in WITH_CASEWORKER
        if already and merge_escalation(current, reason) == current:
            return Plan(topics=self._waiting_topics(conversation))
        topic = "emergency" if reason is Escalation.DISTRESS else "human_handoff"
        return Plan(topics=[topic], escalation=reason, escalation_source=source)

    def _waiting_topics(self, conversation: Conversation) -> list[str]:
        """While queued, acknowledge now and then; while with a caseworker, stay quiet."""
        if conversation.status != Status.QUEUED:
            return []
        now = utcnow()
        interval = dt.timedelta(minutes=self._settings.waiting_ack_minutes)
        if conversation.waiting_ack_at is None or now - conversation.waiting_ack_at >= interval:
            conversation.waiting_ack_at = now
            return ["waiting"]
        return []

    async def _payload_plan(
        self, conversation: Conversation, payload: str, snapshot: ContentSnapshot
    ) -> Plan:
        """A button press: its topic, a deletion step, or a country choice."""
        if not valid_payload(
            payload, snapshot.country_names, snapshot.topics, frozenset(snapshot.languages)
        ):
            return Plan(topics=["fallback"])
        if payload == "delete:confirm":
            return Plan(erase=True)
        if payload == "delete:cancel":
            return Plan(topics=["delete_cancelled"])
        if payload.startswith("country:"):
            return Plan(topics=["destination_info"])
        if payload in ESCALATING_TOPICS:
            return self._escalation_plan(
                conversation, Escalation(ESCALATING_TOPICS[payload]), "button"
            )
        if payload in INTENT_TOPICS:
            # Keep Rasa's dialogue state in step: tell it the intent the button stands for.
            try:
                return await self.ask_engine(conversation, f"/{payload}")
            except EngineUnavailable:
                # A button needs no understanding: with the engine down, answer it anyway.
                metrics.ENGINE_ERRORS.inc()
                return Plan(topics=[payload])
        return Plan(topics=[payload])

    async def _engine_plan(self, conversation: Conversation, text: str) -> Plan:
        """Ask Rasa; with Rasa down, say so once (with help contacts) and keep the message."""
        try:
            return await self.ask_engine(conversation, text)
        except EngineUnavailable:
            metrics.ENGINE_ERRORS.inc()
            return Plan(topics=["unavailable"], awaiting_engine=True)

    async def ask_engine(self, conversation: Conversation, text: str) -> Plan:
        """Rasa's reply topics (which may escalate); raises EngineUnavailable."""
        if not text:
            return Plan(topics=["fallback"])
        engine_replies = await self._engine.send(
            conversation.id, text, self._render_context(conversation)
        )
        if not engine_replies:
            # Rasa drops a reply its NLG call could not fetch: the person reads "unclear".
            metrics.ENGINE_NO_REPLY.inc()
            log.warning("the engine answered a message with no reply; answered as unclear")
        plan = Plan()
        threshold = self._settings.distress_model_threshold
        if any(r.distress_score >= threshold for r in engine_replies):
            # Recall first: a message the model finds likely distress escalates even
            # when another intent scored higher.
            return self._escalation_plan(conversation, Escalation.DISTRESS, "engine")
        for reply in engine_replies:
            if reply.topic in ESCALATING_TOPICS:
                escalated = self._escalation_plan(
                    conversation, Escalation(ESCALATING_TOPICS[reply.topic]), "engine"
                )
                plan.escalation = escalated.escalation
                plan.escalation_source = escalated.escalation_source
                plan.topics.extend(escalated.topics)
                continue
            plan.engine_replies.append(
                Reply(
                    id=None,
                    text=reply.text,
                    topic=reply.topic,
                    language=reply.language or conversation.language,
                    buttons=tuple(
                        Button(str(b.get("title", "")), str(b.get("payload", "")))
                        for b in reply.buttons
                    ),
                )
            )
        if not plan.engine_replies and not plan.topics:
            plan.topics = ["fallback"]
        return plan

    def _render_context(self, conversation: Conversation) -> dict[str, str | None]:
        """What the NLG endpoint needs to render for this conversation."""
        return {
            "language": conversation.language,
            "country": self._country(conversation),
            "channel": conversation.channel,
        }

    def _country(self, conversation: Conversation) -> str | None:
        """The person's likely country: named by them, else their language's main market."""
        return conversation.country or MARKET_COUNTRY.get(conversation.language)

    def replies(self, plan: Plan, conversation: Conversation) -> list[Reply]:
        """The plan's replies in order: the engine's and the check's, then each topic's."""
        return plan.engine_replies + [self.reply(topic, conversation) for topic in plan.topics]

    def reply(self, topic: str, conversation: Conversation) -> Reply:
        """A topic rendered in the conversation's language, country and channel."""
        return self.render_topic(
            topic, conversation.language, self._country(conversation), conversation.channel
        )

    def render_topic(
        self, topic: str, language: str, country: str | None, channel: str | None = None
    ) -> Reply:
        """A topic's answer file rendered as an unsent reply."""
        rendered = self._content.render(topic, language, country, channel)
        return Reply(
            id=None,
            text=rendered.text,
            topic=rendered.topic,
            language=rendered.language,
            buttons=rendered.buttons,
        )
