"""Fuzzing every public endpoint: no 5xx, no forged webhook stored, signed ones accepted.

`make test` runs about 1,000 generated requests (derandomized, so every run is the same);
`SOAK=1` runs at least 10,000 with fresh randomness. The count is printed at the end.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channel_kit import (
    PUBLIC_URL,
    TELEGRAM_SECRET,
    form_body,
    sign,
    telegram_update,
    twilio_form,
)
from tests.fakes.twilio_api import TEST_AUTH_TOKEN
from tests.faults.conftest import SOAK, Fuzzed

SCALE = 10 if SOAK else 1
FUZZ = settings(
    deadline=None,
    derandomize=not SOAK,
    database=None,
    suppress_health_check=list(HealthCheck),
)
TELEGRAM_HEADER = "X-Telegram-Bot-Api-Secret-Token"
FORM = "application/x-www-form-urlencoded"
PUBLIC_PATHS = [
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/nlg",
    "/nlg?token=wrong",
    "/api/web/messages",
    "/api/web/messages?user_id=fuzz&after=0",
    "/api/web/",
    "/webhooks/telegram",
    "/webhooks/whatsapp",
    "/webhooks/whatsapp/status",
    "/console/login",
    "/console",
    "/console/api/queue",
    "/static/chat.js",
    "/static/../bot/settings.py",
]
TELEGRAM_RECORDED = [
    "callback_query",
    "channel_post",
    "command_delete",
    "command_start",
    "contact",
    "document",
    "edited",
    "group",
    "location",
    "my_chat_member",
    "photo",
    "photo_caption",
    "sticker",
    "text",
    "voice",
]
TWILIO_RECORDED = ["button", "location", "media", "text"]
TWILIO_STATUS = ["status_delivered", "status_failed", "status_read", "status_sent"]
SEQUENCE = itertools.count(900_000_000)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
random_headers = st.dictionaries(
    st.sampled_from(
        [
            "content-type",
            "accept",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-for",
            "x-csrf-token",
            "cookie",
            TELEGRAM_HEADER,
            "x-twilio-signature",
            "i-twilio-idempotency-token",
        ]
    ),
    header_values,
    max_size=4,
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=300).map(lambda b: ("bytes", b)),
    json_values.map(lambda v: ("json", v)),
    st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=5).map(
        lambda d: ("form", d)
    ),
)


def send_body(
    fuzzed: Fuzzed, kind: str, method: str, path: str, body: Any, headers: dict[str, str]
) -> Any:
    """One request with a body of the drawn kind."""
    if body is None:
        return fuzzed.request(kind, method, path, headers=headers)
    shape, value = body
    if shape == "json":
        return fuzzed.request(
            kind,
            method,
            path,
            content=json.dumps(value).encode(),
            headers={"content-type": "application/json", **headers},
        )
    if shape == "form":
        return fuzzed.request(
            kind, method, path, content=form_body(value), headers={"content-type": FORM, **headers}
        )
    return fuzzed.request(kind, method, path, content=value, headers=headers)


def mutate(data: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """A recorded payload with some values replaced, removed or retyped."""
    if isinstance(data, dict) and data:
        result = dict(data)
        for key in draw(st.lists(st.sampled_from(sorted(result)), max_size=3, unique=True)):
            action = draw(st.sampled_from(["replace", "drop", "recurse", "keep"]))
            if action == "replace":
                result[key] = draw(json_values)
            elif action == "drop":
                del result[key]
            elif action == "recurse" and depth < 3:
                result[key] = mutate(result[key], draw, depth + 1)
        return result
    if isinstance(data, list) and data:
        return [mutate(item, draw, depth + 1) for item in data]
    return draw(st.one_of(st.just(data), json_values))


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    path=st.one_of(
        st.sampled_from(PUBLIC_PATHS),
        st.text(alphabet="/abcdefghijklmnopqrstuvwxyz0123456789%._-?=&", max_size=40).map(
            lambda p: "/" + p
        ),
    ),
    headers=random_headers,
    body=bodies,
)
@settings(FUZZ, max_examples=400 * SCALE)
def test_random_requests_to_public_endpoints_never_get_a_5xx(
    fuzzed: Fuzzed, method: str, path: str, headers: dict[str, str], body: Any
) -> None:
    """Any method, path, headers and body: a 2xx-4xx answer, never a server error; a webhook
    call without a valid secret or signature stores nothing."""
    before = fuzzed.inbound()
    response = send_body(fuzzed, "random", method, path, body, headers)
    assert response.status_code < 500, (method, path, headers, body, response.text)
    if path.startswith("/webhooks/") and response.status_code != 200:
        assert fuzzed.inbound() == before


@given(data=st.data(), target=st.sampled_from(["telegram", "whatsapp", "status"]))
@settings(FUZZ, max_examples=300 * SCALE)
def test_forged_webhooks_are_refused_and_store_nothing(
    fuzzed: Fuzzed, data: st.DataObject, target: str
) -> None:
    """Recorded payloads (mutated or not) with a missing, wrong or misplaced secret or
    signature get 403 and leave no message behind."""
    before = fuzzed.inbound()
    if target == "telegram":
        update = telegram_update(data.draw(st.sampled_from(TELEGRAM_RECORDED)))
        update["update_id"] = next(SEQUENCE)
        if data.draw(st.booleans()):
            update = mutate(update, data.draw)
        secret = data.draw(
            st.one_of(
                st.none(),
                header_values,
                st.just(TELEGRAM_SECRET[:-1]),
                st.just(TELEGRAM_SECRET + "x"),
                st.just(TELEGRAM_SECRET.upper()),
            )
        )
        headers = {} if secret is None else {TELEGRAM_HEADER: secret}
        response = fuzzed.request(
            "forged",
            "POST",
            "/webhooks/telegram",
            content=json.dumps(update).encode(),
            headers={"content-type": "application/json", **headers},
        )
    else:
        name = data.draw(
            st.sampled_from(TWILIO_RECORDED if target == "whatsapp" else TWILIO_STATUS)
        )
        path = "/webhooks/whatsapp" if target == "whatsapp" else "/webhooks/whatsapp/status"
        form = twilio_form(name, MessageSid=f"SMfuzz{next(SEQUENCE)}")
        signed_form = copy.deepcopy(form)
        how = data.draw(
            st.sampled_from(["missing", "random", "other_url", "other_body", "other_token"])
        )
        headers = {"content-type": FORM}
        if how == "random":
            headers["x-twilio-signature"] = data.draw(header_values)
        elif how == "other_url":
            headers["x-twilio-signature"] = sign(TEST_AUTH_TOKEN, PUBLIC_URL + "/elsewhere", form)
        elif how == "other_body":
            signed_form["Body"] = signed_form.get("Body", "") + "!"
            headers["x-twilio-signature"] = sign(TEST_AUTH_TOKEN, PUBLIC_URL + path, signed_form)
        elif how == "other_token":
            headers["x-twilio-signature"] = sign("e" * 32, PUBLIC_URL + path, form)
        response = fuzzed.request("forged", "POST", path, content=form_body(form), headers=headers)
    assert response.status_code == 403, response.text
    assert fuzzed.inbound() == before


@given(data=st.data(), target=st.sampled_from(["telegram", "whatsapp"]))
@settings(FUZZ, max_examples=300 * SCALE)
def test_signed_mutations_of_recorded_payloads_never_get_a_5xx(
    fuzzed: Fuzzed, data: st.DataObject, target: str
) -> None:
    """Correctly signed but mutated updates and forms are answered without a server error;
    an unmutated text message is accepted and stored."""
    before = fuzzed.inbound()
    intact = data.draw(st.booleans())
    if target == "telegram":
        name = data.draw(st.sampled_from(TELEGRAM_RECORDED))
        update = telegram_update(name)
        if not intact:
            update = mutate(update, data.draw)
        if isinstance(update, dict):
            update["update_id"] = next(SEQUENCE)
        response = fuzzed.request(
            "signed",
            "POST",
            "/webhooks/telegram",
            content=json.dumps(update).encode(),
            headers={"content-type": "application/json", TELEGRAM_HEADER: TELEGRAM_SECRET},
        )
        # /delete erases the person's messages: the count goes down, not up.
        text_message = intact and name == "text"
    else:
        form = twilio_form(data.draw(st.sampled_from(TWILIO_RECORDED)))
        if not intact:
            changed = mutate(form, data.draw)
            form = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in changed.items()}
        form["MessageSid"] = f"SMfuzz{next(SEQUENCE)}"
        if intact:
            form["Body"] = data.draw(st.text(min_size=1, max_size=200).filter(str.strip))
        path = "/webhooks/whatsapp"
        response = fuzzed.request(
            "signed",
            "POST",
            path,
            content=form_body(form),
            headers={
                "content-type": FORM,
                "x-twilio-signature": sign(TEST_AUTH_TOKEN, PUBLIC_URL + path, form),
            },
        )
        text_message = intact and form.get("MessageType") == "text"
    assert response.status_code < 500, (target, response.status_code, response.text)
    if text_message:
        assert response.status_code == 200, response.text
        assert fuzzed.inbound() == before + 1


def post_signed_update(fuzzed: Fuzzed, update: dict[str, Any]) -> Any:
    """A Telegram update with the right secret token; the response."""
    return fuzzed.request(
        "signed",
        "POST",
        "/webhooks/telegram",
        content=json.dumps(update).encode(),
        headers={"content-type": "application/json", TELEGRAM_HEADER: TELEGRAM_SECRET},
    )


def post_signed_form(fuzzed: Fuzzed, path: str, form: dict[str, str]) -> Any:
    """A Twilio form with a valid X-Twilio-Signature; the response."""
    return fuzzed.request(
        "signed",
        "POST",
        path,
        content=form_body(form),
        headers={
            "content-type": FORM,
            "x-twilio-signature": sign(TEST_AUTH_TOKEN, PUBLIC_URL + path, form),
        },
    )


def test_a_signed_callback_query_without_a_sender_is_not_a_server_error(fuzzed: Fuzzed) -> None:
    """Reproducer found by fuzzing: PTB leaves from_user None and translate() reads its id."""
    update = telegram_update("callback_query", update_id=next(SEQUENCE))
    update["callback_query"].pop("from")
    update["callback_query"].pop("message", None)
    response = post_signed_update(fuzzed, update)
    assert response.status_code < 500


def test_signed_updates_without_a_chat_and_forms_with_odd_media_counts_are_not_server_errors(
    fuzzed: Fuzzed,
) -> None:
    """Reproducers found by fuzzing: a message without its chat, NumMedia that is not a number."""
    update = telegram_update("text", update_id=next(SEQUENCE))
    update["message"].pop("chat")
    response = post_signed_update(fuzzed, update)
    assert response.status_code < 500
    odd_forms = [{"NumMedia": count} for count in ("x", "²", "-1", " 3 ")]
    odd_forms.append({"Body": "\x07\x00"})  # only characters the core drops: no text at all
    for changes in odd_forms:
        form = twilio_form("text", MessageSid=f"SModd{next(SEQUENCE)}", **changes)
        path = "/webhooks/whatsapp"
        response = post_signed_form(fuzzed, path, form)
        assert response.status_code == 200, (changes, response.text)


def test_a_signed_update_whose_caption_is_not_text_is_not_a_server_error(fuzzed: Fuzzed) -> None:
    """Reproducer from the long fuzz run: PTB keeps a dict as a caption; it is ignored (200)."""
    before = fuzzed.inbound()
    for caption in ({"a": 1}, 3.5, ["x"]):
        update = telegram_update("photo_caption", update_id=next(SEQUENCE))
        update["message"]["caption"] = caption
        response = post_signed_update(fuzzed, update)
        assert response.status_code == 200, (caption, response.text)
    assert fuzzed.inbound() == before


def test_a_signed_button_press_whose_data_is_not_text_is_acknowledged_not_retried(
    fuzzed: Fuzzed,
) -> None:
    """Reproducer from the long fuzz run: a list as callback data gave a 503, which Telegram
    would retry forever; it is acknowledged and nothing is stored."""
    before = fuzzed.inbound()
    update = telegram_update("callback_query", update_id=next(SEQUENCE))
    update["callback_query"]["data"] = [None]
    response = post_signed_update(fuzzed, update)
    assert response.status_code == 200, response.text
    assert fuzzed.inbound() == before
