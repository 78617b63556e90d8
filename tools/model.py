"""The Rasa model cache: one model per hash of the training data, config and Rasa version.

python -m tools.model path    # print the model path for the current data
python -m tools.model train   # train it unless it already exists

Both first regenerate rasa_project/data/content/ and domain/content.yml from the editors'
`examples:` in content/ (bot/content/training.py), so a new example question is new data.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from bot.content.training import TrainingDataError, generate

ROOT = Path(__file__).resolve().parent.parent
RASA_DIR = ROOT / "rasa_project"
CONTENT_DIR = ROOT / "content"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
KEEP_MODELS = 3


def training_inputs(rasa_dir: Path = RASA_DIR) -> list[Path]:
    """Every file that changes what the model learns."""
    files = [rasa_dir / "config.yml", rasa_dir / "requirements.lock"]
    files += sorted((rasa_dir / "classifiers").glob("*.py"))  # custom components config.yml names
    files += sorted((rasa_dir / "domain").glob("*.yml"))
    files += sorted((rasa_dir / "data").rglob("*.yml"))
    return files


def data_hash(rasa_dir: Path = RASA_DIR) -> str:
    """A short hash over the training inputs' paths and bytes."""
    digest = hashlib.sha256()
    for path in training_inputs(rasa_dir):
        digest.update(str(path.relative_to(rasa_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(
    rasa_dir: Path = RASA_DIR, content_dir: Path = CONTENT_DIR, models_dir: Path | None = None
) -> Path:
    """Where the model for the current training data (content examples included) lives."""
    generate(content_dir, rasa_dir)
    return (models_dir or rasa_dir / "models") / f"rota-{data_hash(rasa_dir)}.tar.gz"


def train(
    rasa_dir: Path = RASA_DIR, content_dir: Path = CONTENT_DIR, models_dir: Path | None = None
) -> Path:
    """Train the model for the current data unless it is cached; prune old ones."""
    target = model_path(rasa_dir, content_dir, models_dir)
    models = target.parent
    if target.exists():
        print(f"model up to date: {target}")
        return target
    print(f"training {target} (data changed or no model yet)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(
        [
            str(RASA_BIN),
            "train",
            "--domain",
            "domain",
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
            "--out",
            str(models),
        ],
        cwd=rasa_dir,
        env=env,
        check=True,
    )
    old = sorted(models.glob("rota-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP_MODELS:]:
        stale.unlink()
    return target


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "path"
    try:
        if command == "train":
            train()
        elif command == "path":
            print(model_path())
        else:
            raise SystemExit(f"unknown command {command!r}; use path or train")
    except TrainingDataError as exc:
        raise SystemExit(str(exc)) from None
