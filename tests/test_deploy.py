"""What a mis-deploy would break: docker-compose.yml, the Dockerfiles, rasa_project's
production endpoints and the Kubernetes manifests in deploy/k8s/, read with PyYAML (and the
compose file also through `docker-compose config`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import PROJECT_ROOT, SettingsError, load_settings

ROOT = PROJECT_ROOT
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_DIR = ROOT / "deploy" / "k8s"
ENDPOINTS = ROOT / "rasa_project" / "endpoints.production.yml"
DEV_ENDPOINTS = ROOT / "rasa_project" / "endpoints.yml"
GATEWAY_REQUIRED = ("SECRET_KEY", "RASA_TOKEN", "DATA_KEYS")
GATEWAY_PRODUCTION = (*GATEWAY_REQUIRED, "DATABASE_URL", "RASA_URL")
COMPOSE_INSTALL = "apt-get install -y docker-compose"
PINNED_PYTHON = re.compile(r"^FROM python:\d+\.\d+\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?\b")
FERNET_TEST_KEY = "ZmVybmV0LXRlc3Qta2V5LWZvci1yb3RhLXNlZ3VyYSE="


def compose() -> dict[str, Any]:
    """docker-compose.yml as data."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def manifests() -> list[dict[str, Any]]:
    """Every Kubernetes object in deploy/k8s/."""
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S_DIR.glob("*.yml")):
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


def k8s(kind: str, name: str) -> dict[str, Any]:
    """The one manifest of this kind and name."""
    found = [m for m in manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment or a CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: dict[str, Any] = spec["template"]["spec"]
    return result


def workloads() -> list[dict[str, Any]]:
    """The manifests that run containers."""
    return [m for m in manifests() if m["kind"] in ("Deployment", "CronJob", "Job")]


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """Each environment variable a container gets, with where it comes from."""
    config = k8s("ConfigMap", "rota-settings")["data"]
    secret = k8s("Secret", "rota-secrets")["stringData"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name == "rota-settings", f"unknown ConfigMap {name}"
        env.update({key: "configmap" for key in config})
    for item in container.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            assert ref["name"] == "rota-secrets", f"unknown Secret {ref['name']}"
            assert ref["key"] in secret, f"Secret rota-secrets has no key {ref['key']}"
            env[item["name"]] = "secret"
        else:
            env[item["name"]] = "value"
    return env


def endpoint_variables() -> set[str]:
    """The ${VAR} names endpoints.production.yml needs from the environment."""
    return set(re.findall(r"\$\{(\w+)\}", ENDPOINTS.read_text()))


# --- the engine's production endpoints ----------------------------------------------


def test_production_endpoints_keep_trackers_in_postgresql_and_locks_in_redis() -> None:
    """endpoints.production.yml: the erasable SQL tracker store on PostgreSQL, redis locks."""
    endpoints = yaml.safe_load(ENDPOINTS.read_text())
    # Rasa's SQL store, with a replace that really deletes (rasa_project/stores/erasable.py).
    assert endpoints["tracker_store"]["type"] == "stores.erasable.ErasableSQLTrackerStore"
    assert (ENDPOINTS.parent / "stores" / "erasable.py").is_file()
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "redis"
    for block in ("tracker_store", "lock_store"):
        for key, value in endpoints[block].items():
            if key not in ("type", "dialect"):
                assert re.fullmatch(r"\$\{\w+\}", str(value)), f"{block}.{key} is not from env"


def test_production_endpoints_render_replies_through_the_gateway_like_development() -> None:
    """The NLG block is the development one: every reply text comes from content/."""
    production = yaml.safe_load(ENDPOINTS.read_text())
    development = yaml.safe_load(DEV_ENDPOINTS.read_text())
    assert production["nlg"] == development["nlg"]


# --- images ---------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "rasa_project/Dockerfile"])
def test_images_start_from_a_pinned_base_and_run_as_a_non_root_user(dockerfile: str) -> None:
    """FROM an exact python release (no floating tag), and a USER other than root."""
    lines = (ROOT / dockerfile).read_text().splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms and all(PINNED_PYTHON.match(line) for line in froms), froms
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users


def test_the_engine_image_runs_with_the_production_endpoints() -> None:
    """The engine image copies endpoints.production.yml and starts Rasa with it."""
    dockerfile = (ROOT / "rasa_project/Dockerfile").read_text()
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert any("endpoints.production.yml" in line for line in copies)
    cmd = [line for line in dockerfile.splitlines() if line.startswith("CMD ")][-1]
    assert "--endpoints endpoints.production.yml" in cmd
    # One argument with "=": a token starting with "-" would otherwise stop Rasa starting.
    assert '--auth-token=\\"$RASA_TOKEN\\"' in cmd


@pytest.mark.parametrize("endpoints", [ENDPOINTS, DEV_ENDPOINTS], ids=lambda p: p.name)
def test_the_engine_image_carries_every_module_its_endpoints_name(endpoints: Path) -> None:
    """Each `type: package.module.Class` is a file in rasa_project/ that the image copies.

    A missing NLG module stops Rasa at start; a missing tracker store module makes Rasa
    fall back, with only a warning, to memory (trackers lost on restart).
    """
    config = yaml.safe_load(endpoints.read_text())
    dockerfile = (ROOT / "rasa_project/Dockerfile").read_text()
    named = [block["type"] for block in config.values() if "." in str(block.get("type", ""))]
    assert "nlg.gateway.GatewayNLG" in named
    for path in named:
        module = path.rsplit(".", 1)[0]
        assert (ROOT / "rasa_project" / (module.replace(".", "/") + ".py")).is_file(), path
        package = module.split(".")[0]
        assert f"COPY {package} {package}" in dockerfile, f"the engine image lacks {package}/"


# --- docker compose --------------------------------------------------------------------


def test_the_gateway_really_refuses_to_start_without_each_required_secret() -> None:
    """The settings the deploy files must provide are the ones the gateway requires."""
    complete = {"SECRET_KEY": "k" * 40, "RASA_TOKEN": "t" * 24, "DATA_KEYS": FERNET_TEST_KEY}
    load_settings(complete)
    for name in GATEWAY_REQUIRED:
        with pytest.raises(SettingsError):
            load_settings({k: v for k, v in complete.items() if k != name})


def test_compose_gives_the_gateway_every_required_setting_without_a_default() -> None:
    """SECRET_KEY, RASA_TOKEN, DATA_KEYS must be set (${VAR:?}); DATABASE_URL is PostgreSQL."""
    env = compose()["services"]["gateway"]["environment"]
    for name in GATEWAY_PRODUCTION:
        assert env.get(name), f"compose gives the gateway no {name}"
    for name in GATEWAY_REQUIRED:
        assert str(env[name]).startswith(f"${{{name}:?"), f"{name} must be required: {env[name]}"
    assert env["DATABASE_URL"].startswith("postgresql://")
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["RASA_URL"] == "http://engine:5005"


def test_compose_gives_the_engine_every_variable_its_endpoints_need() -> None:
    """Rasa refuses to start on an unset ${VAR}: compose sets each one, and the same token."""
    services = compose()["services"]
    env = services["engine"]["environment"]
    missing = endpoint_variables() - set(env)
    assert not missing, f"compose gives the engine no {sorted(missing)}"
    assert env["RASA_TOKEN"] == services["gateway"]["environment"]["RASA_TOKEN"]
    assert env["TRACKER_DB_HOST"] == "db" and env["LOCK_STORE_HOST"] == "redis"
    assert env["ROTA_NLG_URL"] == "http://gateway:8000/nlg"


def test_compose_creates_the_tracker_database_the_engine_uses() -> None:
    """The engine's TRACKER_DB_NAME is created by a script mounted into the db service."""
    services = compose()["services"]
    name = services["engine"]["environment"]["TRACKER_DB_NAME"]
    mounts = [v.split(":") for v in services["db"]["volumes"]]
    init = [src for src, dst, *_ in mounts if dst == "/docker-entrypoint-initdb.d"]
    assert init, "no init scripts mounted into the db service"
    scripts = "".join(p.read_text() for p in (ROOT / init[0]).glob("*.sql"))
    assert f"CREATE DATABASE {name}" in scripts


def test_compose_services_have_healthchecks_and_pinned_images() -> None:
    """Every service has a healthcheck; the gateway's asks /readyz; no :latest or bare image."""
    services = compose()["services"]
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        image = service.get("image")
        if image is not None:
            assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"
            assert re.search(r":\d+\.\d+", image), f"{name} needs an exact version: {image}"
    assert "/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert "5005/" in " ".join(services["engine"]["healthcheck"]["test"])


def test_compose_gateway_can_be_scaled_without_a_host_port_clash() -> None:
    """The gateway publishes a host port range on loopback, one port per replica."""
    ports = compose()["services"]["gateway"]["ports"]
    assert ports == ["127.0.0.1:8000-8009:8000"]


def compose_validator() -> list[str]:
    """The compose CLI that validates files without an engine (docker compose v2 or v1)."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed; "
        f"the Makefile installs it (`{COMPOSE_INSTALL}`)"
    )


def run_compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`compose config` on docker-compose.yml with exactly these variables (no .env file)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [*compose_validator(), "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_config_validates_and_passes_the_secrets_through(tmp_path: Path) -> None:
    """`docker compose config` accepts the file and resolves the secrets into both services."""
    secrets = {
        "SECRET_KEY": "s3cret",
        "RASA_TOKEN": "t0ken",
        "DATA_KEYS": FERNET_TEST_KEY,
        "POSTGRES_PASSWORD": "pw",
    }
    result = run_compose_config(tmp_path, secrets)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    gateway, engine = resolved["gateway"]["environment"], resolved["engine"]["environment"]
    assert gateway["DATA_KEYS"] == FERNET_TEST_KEY and gateway["SECRET_KEY"] == "s3cret"
    assert gateway["DATABASE_URL"] == "postgresql://rota:pw@db:5432/rota"
    assert engine["RASA_TOKEN"] == gateway["RASA_TOKEN"] == "t0ken"
    assert engine["TRACKER_DB_PASSWORD"] == "pw"


def test_compose_config_refuses_a_missing_data_key(tmp_path: Path) -> None:
    """Without DATA_KEYS compose stops before starting anything, naming the variable."""
    result = run_compose_config(
        tmp_path, {"SECRET_KEY": "s", "RASA_TOKEN": "t", "POSTGRES_PASSWORD": "pw"}
    )
    assert result.returncode != 0
    assert "DATA_KEYS" in result.stderr


# --- Kubernetes --------------------------------------------------------------------------


def test_every_manifest_is_in_the_namespace_and_every_image_is_pinned() -> None:
    """Objects live in rota-segura; images carry a version tag, never :latest."""
    for manifest in manifests():
        if manifest["kind"] != "Namespace":
            assert manifest["metadata"]["namespace"] == "rota-segura", manifest["metadata"]
    for workload in workloads():
        for container in pod_spec(workload)["containers"]:
            image = container["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag != "latest", f"{workload['metadata']['name']}: {image}"


def test_every_pod_runs_as_non_root_on_a_read_only_root_with_limits() -> None:
    """runAsNonRoot, no privilege escalation, read-only root, requests and limits."""
    for workload in workloads():
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name} has no writable /tmp"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), name


def test_the_gateway_deployment_gets_every_required_setting() -> None:
    """The gateway and the purge job get SECRET_KEY, RASA_TOKEN, DATA_KEYS, DATABASE_URL."""
    for workload in (k8s("Deployment", "rota-gateway"), k8s("CronJob", "rota-purge")):
        (container,) = pod_spec(workload)["containers"]
        env = container_env(container)
        for name in GATEWAY_PRODUCTION:
            assert name in env, f"{workload['metadata']['name']} gets no {name}"
        for name in (*GATEWAY_REQUIRED, "DATABASE_URL"):
            assert env[name] == "secret", f"{name} must come from the Secret"


def test_the_gateway_runs_two_replicas_with_readyz_and_healthz_probes() -> None:
    """Readiness on /readyz, liveness on /healthz, 2 replicas, a PodDisruptionBudget."""
    deployment = k8s("Deployment", "rota-gateway")
    assert deployment["spec"]["replicas"] >= 2
    (container,) = pod_spec(deployment)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    budget = k8s("PodDisruptionBudget", "rota-gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] >= 1
    service = k8s("Service", "rota-gateway")
    assert service["spec"]["selector"].items() <= labels.items()


def test_the_engine_gets_every_variable_its_endpoints_need() -> None:
    """The engine pod sets each ${VAR} of endpoints.production.yml; secrets from the Secret."""
    deployment = k8s("Deployment", "rota-engine")
    (container,) = pod_spec(deployment)["containers"]
    env = container_env(container)
    missing = endpoint_variables() - set(env)
    assert not missing, f"the engine gets no {sorted(missing)}"
    assert env["RASA_TOKEN"] == env["TRACKER_DB_PASSWORD"] == "secret"
    assert container["readinessProbe"]["httpGet"]["path"] == "/"
    assert container["resources"]["requests"]["memory"] in ("1200Mi", "1.2Gi")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert k8s("Service", "rota-engine")["spec"]["selector"].items() <= labels.items()


def test_the_services_point_at_each_other_by_their_kubernetes_names() -> None:
    """RASA_URL names the engine's Service and ROTA_NLG_URL the gateway's, on their ports."""
    config = k8s("ConfigMap", "rota-settings")["data"]
    assert config["RASA_URL"] == "http://rota-engine:5005"
    assert config["ROTA_NLG_URL"] == "http://rota-gateway:8000/nlg"


def test_the_secret_template_holds_placeholders_only() -> None:
    """No real secret in the repository: every value is empty or says CHANGE-ME."""
    secret = k8s("Secret", "rota-secrets")["stringData"]
    for key, value in secret.items():
        assert value == "" or "CHANGE-ME" in value, f"{key} looks like a real value"


def test_the_retention_job_runs_the_purge_command_daily() -> None:
    """A CronJob runs `python -m bot purge`, never two at once."""
    job = k8s("CronJob", "rota-purge")
    (container,) = pod_spec(job)["containers"]
    assert container["args"] == ["python", "-m", "bot", "purge"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    gateway = pod_spec(k8s("Deployment", "rota-gateway"))["containers"][0]
    assert container["image"] == gateway["image"]


def test_only_the_gateway_and_the_purge_job_may_reach_the_engine() -> None:
    """The engine's NetworkPolicy admits exactly the pods that call it (the purge: to forget)."""
    policy = k8s("NetworkPolicy", "rota-engine-from-gateway")
    admitted = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
    }
    callers = {
        pod["metadata"]["labels"]["app.kubernetes.io/name"]
        for pod in (
            k8s("Deployment", "rota-gateway")["spec"]["template"],
            k8s("CronJob", "rota-purge")["spec"]["jobTemplate"]["spec"]["template"],
        )
    }
    assert admitted == callers == {"rota-gateway", "rota-purge"}
