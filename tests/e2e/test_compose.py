"""docker-compose.yml cannot be run here (no Docker engine): check what can be checked without one — its
structure, health checks, dependency graph, and that what it mounts and runs exists in the repository."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
EXPECTED = {"postgresql", "temporal", "temporal-ui", "setup", "gateway", "worker", "api", "mqtt", "publisher"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    declared = service.get("depends_on", {})
    if isinstance(declared, list):
        return dict.fromkeys(declared, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in declared.items()}


def one_shot(services: dict[str, dict[str, Any]]) -> set[str]:
    """Jobs others wait to *complete*: they exit, so they carry no health check."""
    return {
        name
        for service in services.values()
        for name, condition in depends_on(service).items()
        if condition == "service_completed_successfully"
    }


def test_the_stack_has_every_part(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= EXPECTED


def test_every_service_has_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    assert [
        name for name, service in services.items() if not ("image" in service or "build" in service)
    ] == []


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    jobs = one_shot(services)
    assert {"setup", "temporal-schema"} <= jobs
    for name, service in services.items():
        if name in jobs:
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_depends_on_names_existing_services_with_valid_conditions(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert condition in CONDITIONS, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy"


def test_the_dependency_graph_has_no_cycle(services: dict[str, dict[str, Any]]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for target in depends_on(services[name]):
            visit(target, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


def test_our_services_wait_for_what_they_need(services: dict[str, dict[str, Any]]) -> None:
    assert depends_on(services["setup"]) == {"postgresql": "service_healthy", "temporal": "service_healthy"}
    for name in ("worker", "api"):
        assert depends_on(services[name])["setup"] == "service_completed_successfully"
    assert depends_on(services["worker"])["gateway"] == "service_healthy"
    assert depends_on(services["temporal"]) == {"temporal-schema": "service_completed_successfully"}


def test_mounted_files_and_run_scripts_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
        commands = [service.get("command", []), service.get("healthcheck", {}).get("test", [])]
        for word in (word for command in commands if isinstance(command, list) for word in command):
            if word.startswith("/app/"):
                assert (REPO_ROOT / word.removeprefix("/app/")).exists(), f"{name} runs missing {word}"
    assert (REPO_ROOT / "Dockerfile").is_file()


def test_the_api_command_names_the_app_factory(services: dict[str, dict[str, Any]]) -> None:
    command = services["api"]["command"]
    assert command[:3] == ["uvicorn", "--factory", "api.app:create_app"]
    assert "def create_app(" in (REPO_ROOT / "api" / "app.py").read_text()


def test_secrets_are_required_not_defaulted() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    for secret in (
        "IOT_BILLING_ADMIN_TOKEN",
        "IOT_BILLING_USER_TOKEN_SECRET",
        "IOT_BILLING_PAYLOAD_KEYS",
        "IOT_BILLING_DB_PASSWORD",
        "POSTGRES_PASSWORD",
        "IOT_BILLING_MQTT_PUBLISHER_PASSWORD",
        "IOT_BILLING_MQTT_SECRETS",
    ):
        uses = re.findall(rf"\$\{{{secret}([^}}]*)\}}", text)
        assert uses, secret
        assert all(use.startswith(":?") for use in uses), f"{secret} must be required: {uses}"


def test_the_file_says_it_was_not_run() -> None:
    head = (REPO_ROOT / "docker-compose.yml").read_text().split("\nservices:", 1)[0]
    assert "NOT been run" in head
