# The gateway (bot/ + handlers/ + content/). The Rasa engine has its own image
# (rasa_project/Dockerfile); docker-compose.yml runs both with PostgreSQL and Redis,
# deploy/k8s/ on Kubernetes (deploy/README.md).
# The base image is pinned to an exact release. To pin it by digest as well, resolve
# the digest where you have registry access and append it, e.g.
#   docker buildx imagetools inspect python:3.11.10-slim-bookworm
#   FROM python:3.11.10-slim-bookworm@sha256:<digest> AS base
FROM python:3.11.10-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements/app.lock requirements/app.lock
RUN pip install -r requirements/app.lock

COPY pyproject.toml alembic.ini README.md ./
COPY bot bot
COPY handlers handlers
COPY content content
# The NLU examples teach the language detector how people write (bot/language.py).
COPY rasa_project/data/nlu rasa_project/data/nlu
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home /app rota \
    && mkdir -p /app/var && chown rota /app/var

USER rota
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Secrets (SECRET_KEY, RASA_TOKEN, DATA_KEYS) come from the environment; there are no defaults.
CMD ["python", "-m", "bot", "serve", "--host", "0.0.0.0", "--port", "8000"]
