"""The Rasa model cache: one model per hash of the training data, config and Rasa version.

python -m tools.model path    # print the model path for the current data
python -m tools.model train   # train it unless it already exists
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_DIR = ROOT / "rasa_project"
MODELS = RASA_DIR / "models"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
KEEP_MODELS = 3


def training_inputs() -> list[Path]:
    """Every file that changes what the model learns."""
    files = [RASA_DIR / "config.yml", RASA_DIR / "domain.yml", RASA_DIR / "requirements.lock"]
    files += sorted((RASA_DIR / "data").rglob("*.yml"))
    return files


def data_hash() -> str:
    """A short hash over the training inputs' paths and bytes."""
    digest = hashlib.sha256()
    for path in training_inputs():
        digest.update(str(path.relative_to(RASA_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path() -> Path:
    """Where the model for the current training data lives."""
    return MODELS / f"rota-{data_hash()}.tar.gz"


def train() -> Path:
    """Train the model for the current data unless it is cached; prune old ones."""
    target = model_path()
    if target.exists():
        print(f"model up to date: {target.relative_to(ROOT)}")
        return target
    print(f"training {target.relative_to(ROOT)} (data changed or no model yet)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(
        [
            str(RASA_BIN),
            "train",
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
            "--out",
            str(MODELS),
        ],
        cwd=RASA_DIR,
        env=env,
        check=True,
    )
    old = sorted(MODELS.glob("rota-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP_MODELS:]:
        stale.unlink()
    return target


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "path"
    if command == "train":
        train()
    elif command == "path":
        print(model_path())
    else:
        raise SystemExit(f"unknown command {command!r}; use path or train")
