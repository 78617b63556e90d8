"""In-process costs of the gateway's own steps: safety check, language detection, content load."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from bot.content.loader import load_content
from bot.content.model import ContentSnapshot
from bot.language import detector_for
from bot.safety import check_message
from tools.model import RASA_DIR


def safety_check_us(snapshot: ContentSnapshot, texts: Sequence[str]) -> float:
    """Mean microseconds of the distress / request-a-person phrase check per message."""
    started = time.perf_counter()
    for text in texts:
        check_message(text, snapshot.distress, snapshot.request_human)
    return (time.perf_counter() - started) / len(texts) * 1e6


def language_ms(texts: Sequence[str]) -> float:
    """Mean milliseconds of language detection per message."""
    detector = detector_for(RASA_DIR / "data" / "nlu")
    started = time.perf_counter()
    for text in texts:
        detector.guess(text)
    return (time.perf_counter() - started) / len(texts) * 1e3


def content_load_ms(content_dir: Path) -> float:
    """Milliseconds to load and check the whole content tree once."""
    started = time.perf_counter()
    load_content(content_dir)
    return (time.perf_counter() - started) * 1e3
