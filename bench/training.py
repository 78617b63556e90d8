"""Training cost: from scratch, and when only an answer's text changed (which must not retrain)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bot.content.training import generate
from tools.model import CONTENT_DIR, RASA_BIN, RASA_DIR, data_hash, model_path, train

ANSWER_FILE = Path("topics/blue_heart/en.yml")


def copy_project(work_dir: Path) -> tuple[Path, Path]:
    """Copies of rasa_project/ (no models or caches) and content/ that the benchmark may edit."""
    rasa_copy = work_dir / "rasa_project"
    content_copy = work_dir / "content"
    shutil.copytree(
        RASA_DIR, rasa_copy, ignore=shutil.ignore_patterns("models", ".rasa", "__pycache__")
    )
    shutil.copytree(CONTENT_DIR, content_copy)
    generate(content_copy, rasa_copy)
    return rasa_copy, content_copy


def train_from_scratch(rasa_copy: Path, models_dir: Path, log_file: Path) -> tuple[float, str]:
    """`rasa train --force` on the copy with an empty cache; (seconds, model name)."""
    name = f"rota-{data_hash(rasa_copy)}"
    cache = models_dir.parent / "rasa-cache"
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": str(cache),
    }
    began = time.perf_counter()
    with log_file.open("ab") as out:
        subprocess.run(
            [
                str(RASA_BIN),
                "train",
                "--force",
                "--domain",
                "domain",
                "--fixed-model-name",
                name,
                "--out",
                str(models_dir),
            ],
            cwd=rasa_copy,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.perf_counter() - began, name


def edit_answer(path: Path, marker: str) -> None:
    """Append a marker to the first line of an answer's `text: |` block."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for at, line in enumerate(lines[:-1]):
        if line.rstrip() == "text: |":
            body = lines[at + 1].rstrip("\n")
            lines[at + 1] = f"{body} {marker}\n"
            path.write_text("".join(lines), encoding="utf-8")
            return
    raise ValueError(f"{path.name} has no `text: |` block to edit")


@dataclass(frozen=True)
class AnswerEdit:
    """What `make train` does after an answer edit: the model names before and after, and time."""

    before: str
    after: str
    seconds: float

    @property
    def retrained(self) -> bool:
        """Whether the edit asked for a new model (it must not)."""
        return self.before != self.after


def answer_edit_retrain(rasa_copy: Path, content_copy: Path, models_dir: Path) -> AnswerEdit:
    """Edit an answer in the content copy, then decide as `make train` does (tools.model).

    With the model for the unedited data in `models_dir`, tools.model.train itself runs
    (it must find that model and return); without one, only its decision (the hash) is made.
    """
    before = model_path(rasa_copy, content_copy, models_dir)
    edit_answer(content_copy / ANSWER_FILE, "(edited by the benchmark)")
    began = time.perf_counter()
    if before.exists():
        with contextlib.redirect_stdout(io.StringIO()):
            after = train(rasa_copy, content_copy, models_dir)
    else:
        after = model_path(rasa_copy, content_copy, models_dir)
    return AnswerEdit(before=before.name, after=after.name, seconds=time.perf_counter() - began)
