"""Static checks of deploy/: no Docker engine or cluster runs here, so check what can be."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


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
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service = compose["services"]["review-bot"]
    assert any(v.startswith("review-bot-data:/var/lib/review-bot") for v in service["volumes"])
    assert "review-bot-data" in compose["volumes"]


def test_kubernetes_deployment_probes_and_secret_references() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "review-bot.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
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
