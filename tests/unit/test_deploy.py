"""Static checks of deploy/: no Docker engine or cluster runs here, so check what can be."""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel

from bot.config.models import Config, load_config
from bot.config.secrets import ENV_REFERENCE, Secret

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
MANIFESTS = ("review-bot.yaml", "review-bot-postgres.yaml")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")
# A compose reference with no literal default: ${VAR}, ${VAR:-}, ${VAR-}, ${VAR:?message}.
COMPOSE_REF = re.compile(r"\$\{(\w+)(?::?-|:?\?[^}]*)?\}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _replica_services() -> dict[str, dict[str, Any]]:
    """The review-bot services of profile `replicas` (everything there but postgres)."""
    return {
        name: service
        for name, service in _compose()["services"].items()
        if "replicas" in service.get("profiles", []) and name != "postgres"
    }


def _host_ports(spec: str) -> list[int]:
    """The host ports of a compose port mapping: "8081-8082:8080" -> [8081, 8082]."""
    host = spec.split(":")[-2]
    first, _, last = host.partition("-")
    return list(range(int(first), int(last or first) + 1))


def _references(data: Any) -> set[str]:
    """The ${NAME} references in a parsed YAML document's values (not its comments)."""
    if isinstance(data, dict):
        return set().union(*map(_references, data.values()))
    if isinstance(data, list):
        return set().union(*map(_references, data))
    return set(ENV_REFERENCE.findall(data)) if isinstance(data, str) else set()


def _kinds(manifest: str) -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / manifest).read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert len(kinds) == len(docs), "one object of each kind"
    return kinds


def _pod_labels(kinds: dict[str, dict[str, Any]]) -> dict[str, str]:
    return kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]


def _load_configmap(kinds: dict[str, dict[str, Any]], tmp_path: Path) -> Config:
    """The ConfigMap's config.yaml through the real loader: literal secrets refused, the
    references checked for their form (the cluster's files and variables are not here)."""
    path = tmp_path / "config.yaml"
    path.write_text(kinds["ConfigMap"]["data"]["config.yaml"])
    return load_config(path, secrets=False)


def _secrets_of(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Secret]]:
    """Every secret a loaded config holds, by dotted key (NAME, whichever key gave it)."""
    for name, value in model:
        if isinstance(value, Secret) and not name.endswith("_file"):
            yield f"{prefix}{name}", value
        elif isinstance(value, BaseModel):
            yield from _secrets_of(value, f"{prefix}{name}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _secrets_of(item, f"{prefix}{name}[{i}].")


def test_dockerfile_is_slim_non_root_with_a_healthcheck() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/healthz" in text
    # Every path the image copies must exist in the repository.
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for part in src.split():
            assert (DEPLOY.parent / part).exists(), part


def test_compose_keeps_the_sqlite_file_on_a_volume() -> None:
    compose = _compose()
    service = compose["services"]["review-bot"]
    assert any(v.startswith("review-bot-data:/var/lib/review-bot") for v in service["volumes"])
    assert "review-bot-data" in compose["volumes"]
    # Still the default: a plain `docker compose up` starts it alone, on its own config.
    assert "profiles" not in service and "depends_on" not in service
    assert "./config.yaml:/etc/review-bot/config.yaml:ro" in service["volumes"]
    others = [n for n, s in compose["services"].items() if n != "review-bot"]
    assert all("profiles" in compose["services"][n] for n in others), others


def test_compose_postgres_has_a_volume_a_healthcheck_and_no_literal_password() -> None:
    compose = _compose()
    postgres = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:15(\.\d+)*(-\w+)?", postgres["image"])
    assert postgres["profiles"] == ["replicas"]
    volume, _, target = postgres["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data" and volume in compose["volumes"]
    test = postgres["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(test[1:])
    assert COMPOSE_REF.fullmatch(postgres["environment"]["POSTGRES_PASSWORD"])


def test_compose_replicas_share_one_postgres_once_it_is_healthy() -> None:
    services = _compose()["services"]
    replicas = _replica_services()
    assert replicas, "no review-bot service in profile replicas"
    assert sum(s.get("deploy", {}).get("replicas", 1) for s in replicas.values()) == 2
    taken = {port for spec in services["review-bot"]["ports"] for port in _host_ports(spec)}
    for name, service in replicas.items():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        source, target = service["volumes"][0].split(":")[:2]
        assert target == "/etc/review-bot/config.yaml"
        assert (DEPLOY / source).resolve() == DEPLOY / "config.postgres.yaml"
        # Each replica needs a host port of its own, none another service's.
        ports = [port for spec in service["ports"] for port in _host_ports(spec)]
        assert len(ports) >= service.get("deploy", {}).get("replicas", 1), name
        assert not set(ports) & taken, name
        taken |= set(ports)


def test_compose_secrets_are_references_and_the_profile_requires_nothing_new() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key):
                assert COMPOSE_REF.fullmatch(str(value)), f"{name}.{key} is not a reference"
    # Compose interpolates every service before it applies profiles: a ${VAR:?} only the
    # profile uses would make the plain SQLite `docker compose up` fail.
    default = {n: s for n, s in services.items() if "profiles" not in s}
    required_by_default = set(re.findall(r"\$\{(\w+):?\?", yaml.safe_dump(default)))
    for name, service in services.items():
        if "profiles" in service:
            required = set(re.findall(r"\$\{(\w+):?\?", yaml.safe_dump(service)))
            assert required <= required_by_default, (name, required - required_by_default)


def test_the_compose_replicas_config_loads_with_what_compose_passes_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _compose()["services"]
    postgres = services["postgres"]["environment"]
    path = DEPLOY / "config.postgres.yaml"
    referenced = _references(yaml.safe_load(path.read_text()))
    assert "REVIEW_BOT_DB_PASSWORD" in referenced
    for var in referenced:
        monkeypatch.setenv(var, f"value-of-{var}")
    for name, service in _replica_services().items():
        given = service["environment"]
        assert referenced <= set(given), (name, referenced - set(given))
        config = load_config(path)  # as serve loads it: references resolved, literals refused
        storage = config.storage
        assert storage.is_postgres and storage.password is not None
        kind, _, var = storage.password.source.partition(":")
        assert kind == "env" and var in given
        # The password the bot sends is the one postgres was initialised with.
        bot_ref = COMPOSE_REF.fullmatch(given[var])
        db_ref = COMPOSE_REF.fullmatch(postgres["POSTGRES_PASSWORD"])
        assert bot_ref and db_ref and bot_ref.group(1) == db_ref.group(1)
        url = urlsplit(storage.url)
        assert url.hostname == "postgres" and (url.port or 5432) == 5432
        assert url.password is None
        assert url.username == postgres["POSTGRES_USER"]
        assert url.path.strip("/") == postgres["POSTGRES_DB"]
        assert config.server.host == "0.0.0.0"
        assert all(spec.endswith(f":{config.server.port}") for spec in service["ports"])


def test_kubernetes_deployment_probes_and_secret_references() -> None:
    kinds = _kinds("review-bot.yaml")
    assert {"Deployment", "Service", "PersistentVolumeClaim", "ConfigMap"} <= set(kinds)
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    volumes = kinds["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert any("secret" in v for v in volumes)
    # The shipped config must not carry a literal secret: files or ${ENV} only.
    config = yaml.safe_load(kinds["ConfigMap"]["data"]["config.yaml"])
    github = config["platforms"]["github"]
    assert "webhook_secret" not in github and github["webhook_secret_file"].startswith("/etc/")


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_kubernetes_probes_point_at_the_container_port(manifest: str, tmp_path: Path) -> None:
    kinds = _kinds(manifest)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    config = _load_configmap(kinds, tmp_path)
    port = container["ports"][0]
    assert port["containerPort"] == config.server.port and config.server.host == "0.0.0.0"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert get["port"] in (port["name"], port["containerPort"]), probe
    service = kinds["Service"]["spec"]
    assert service["selector"].items() <= _pod_labels(kinds).items()
    assert service["ports"][0]["targetPort"] in (port["name"], port["containerPort"])
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    mounted = {m["name"]: m for m in container["volumeMounts"]}
    config_volume = next(v for v in pod["volumes"] if "configMap" in v)
    assert config_volume["configMap"]["name"] == kinds["ConfigMap"]["metadata"]["name"]
    assert mounted[config_volume["name"]]["mountPath"] == "/etc/review-bot/config.yaml"
    assert "/etc/review-bot/config.yaml" in container["args"]


def test_kubernetes_postgres_variant_runs_two_replicas_without_a_volume() -> None:
    kinds = _kinds("review-bot-postgres.yaml")
    assert {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap"} <= set(kinds)
    assert "PersistentVolumeClaim" not in kinds
    deployment = kinds["Deployment"]["spec"]
    assert deployment["replicas"] == 2
    pod = deployment["template"]["spec"]
    assert not any("persistentVolumeClaim" in v for v in pod["volumes"])
    strategy = deployment["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] not in (0, "0%")  # else it cannot roll
    pdb = kinds["PodDisruptionBudget"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1 < deployment["replicas"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= _pod_labels(kinds).items()
    assert pdb["spec"]["selector"] == deployment["selector"]


def test_kubernetes_postgres_config_loads_and_reads_its_secrets_from_mounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kinds = _kinds("review-bot-postgres.yaml")
    # No Secret object (its data would be the secret), no secret-looking env literal.
    assert "Secret" not in kinds
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    for env in container.get("env", []):
        if SECRET_NAME.search(env["name"]):
            assert "value" not in env and "secretKeyRef" in env["valueFrom"], env["name"]
    raw = yaml.safe_load(kinds["ConfigMap"]["data"]["config.yaml"])
    (reference,) = re.fullmatch(r"\$\{(\w+)\}", raw["storage"]["url"]).groups()  # type: ignore[union-attr]
    (url_env,) = [env for env in container["env"] if env["name"] == reference]
    assert url_env["valueFrom"]["secretKeyRef"] == {"name": "review-bot-db", "key": "url"}
    # What the Secret holds, per the manifest's own instructions, loads as PostgreSQL.
    example = re.search(
        r"--from-literal=url=(\S+)",
        (DEPLOY / "kubernetes" / "review-bot-postgres.yaml").read_text(),
    )
    assert example is not None
    monkeypatch.setenv(reference, example.group(1))
    config = _load_configmap(kinds, tmp_path)
    storage = config.storage
    assert storage.is_postgres and urlsplit(storage.url).password is None
    assert storage.password is not None and storage.password.source.startswith("file:")
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret_dirs = {
        m["mountPath"] for m in container["volumeMounts"] if "secret" in volumes[m["name"]]
    }
    env_names = {env["name"] for env in container.get("env", [])}
    secrets = dict(_secrets_of(config))
    assert {"storage.password", "platforms.github.webhook_secret"} <= set(secrets)
    for name, secret in secrets.items():
        kind, _, where = secret.source.partition(":")
        if kind == "file":  # a key of a mounted Secret: a file directly in its mount
            assert str(Path(where).parent) in secret_dirs, (name, where)
        else:
            assert kind == "env" and where in env_names, (name, secret.source)


def test_the_readme_names_every_deploy_file() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n### Deploying\n", 1)[1].split("\n## ", 1)[0]
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "github-app-manifest.json":
            assert f"`{path.relative_to(REPO)}`" in section, path


def test_systemd_unit_runs_serve_and_stops_gracefully() -> None:
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "review-bot.service")
    service = unit["Service"]
    assert " serve " in service["ExecStart"] + " "
    assert service["User"] != "root" and service["KillSignal"] == "SIGTERM"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_github_app_manifest_asks_for_what_the_adapter_uses() -> None:
    import json

    manifest = json.loads((DEPLOY / "github-app-manifest.json").read_text())
    assert manifest["default_permissions"] == {
        "pull_requests": "write",  # reviews, review comments, replies
        "contents": "read",  # file contents and .review-bot.yaml
        "issues": "write",  # the eyes reaction on a /recheck comment
        "checks": "write",  # the check run and its Re-run button
        "metadata": "read",
    }
    # Exactly the events bot/platforms/github/events.py acts on.
    assert sorted(manifest["default_events"]) == ["check_run", "issue_comment", "pull_request"]
    assert manifest["hook_attributes"]["url"].endswith("/webhooks/github")
    assert manifest["public"] is False
