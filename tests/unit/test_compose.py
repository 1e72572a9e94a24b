"""docker-compose.yml describes the same stack: services present, mounted files exist, ports on loopback."""

from pathlib import Path

import pytest
import yaml

from harness.config import REPO_ROOT
from harness.core.errors import HarnessError
from harness.stack.docker import ensure_engine

COMPOSE = REPO_ROOT / "docker-compose.yml"
REQUIRED = {"postgres-primary", "postgres-replica", "redis", "toxiproxy", "api", "backup", "prometheus",
            "alertmanager", "grafana", "postgres-exporter-primary", "postgres-exporter-replica", "redis-exporter",
            "node-exporter"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_every_service_is_present(compose: dict) -> None:
    assert set(compose["services"]) >= REQUIRED


def test_images_are_the_official_ones(compose: dict) -> None:
    images = {name: s.get("image", "") for name, s in compose["services"].items()}
    assert images["prometheus"].startswith("prom/prometheus")
    assert images["alertmanager"].startswith("prom/alertmanager")
    assert images["grafana"].startswith("grafana/grafana")
    assert images["toxiproxy"].startswith("ghcr.io/shopify/toxiproxy")
    assert images["postgres-primary"].startswith("postgres:")
    assert images["redis"].startswith("redis:")


def test_mounted_files_exist(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"


def test_build_contexts_exist(compose: dict) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            context = service["build"] if isinstance(service["build"], str) else service["build"]["context"]
            assert (REPO_ROOT / context).is_dir(), f"{name} builds from missing {context}"


def test_every_dockerfile_copy_source_exists_in_its_build_context(compose: dict) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if not build:
            continue
        context = REPO_ROOT / (build if isinstance(build, str) else build["context"])
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        assert dockerfile.is_file(), f"{name}: no {dockerfile}"
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (context / source).exists(), f"{name}: {dockerfile.name} copies missing {source}"


def test_services_of_the_api_image_override_its_entrypoint_or_its_arguments_not_both(compose: dict) -> None:
    # The image's ENTRYPOINT is serve.py: a `command` naming serve.py again would pass it to itself.
    for name, service in compose["services"].items():
        if service.get("image") == "harness-betting-api" and "entrypoint" not in service:
            assert "serve.py" not in " ".join(service.get("command", [])), name


def test_prometheus_loads_packs_without_duplicate_alert_names(compose: dict) -> None:
    names: list[str] = []
    for volume in compose["services"]["prometheus"]["volumes"]:
        source, target = volume.split(":")[:2]
        if target.startswith("/etc/prometheus/rules/"):
            doc = yaml.safe_load((REPO_ROOT / source).read_text())
            names += [r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert names
    # ConnectionPoolNearLimit has two tiers (warning, critical) on purpose; nothing else repeats.
    assert sorted({n for n in names if names.count(n) > 1}) == ["ConnectionPoolNearLimit"]


def test_alertmanager_notifies_only_the_stack_sinks(compose: dict) -> None:
    from harness.stack.docker import DOCKER_ALERTMANAGER, render_docker_alertmanager

    mounted = [v for v in compose["services"]["alertmanager"]["volumes"] if "alertmanager.yml" in v]
    assert mounted == ["./stack/alertmanager/docker.yml:/etc/alertmanager/alertmanager.yml:ro"]
    assert DOCKER_ALERTMANAGER.read_text() == render_docker_alertmanager(), \
        "stack/alertmanager/docker.yml is stale: regenerate it (see render_docker_alertmanager)"
    assert "sinks" in compose["services"]
    text = DOCKER_ALERTMANAGER.read_text()
    assert "https://" not in text and "SLACK_WEBHOOK_URL" not in text


def test_every_published_port_is_on_loopback(compose: dict) -> None:
    published = [(name, p) for name, s in compose["services"].items() for p in s.get("ports", [])]
    assert published
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_postgres_exporter_runs_stock_like_the_local_backend(compose: dict) -> None:
    # No custom queries in either backend: metrics a pack needs beyond the stock exporter are findings.
    for name, svc in compose["services"].items():
        if "postgres-exporter" in str(svc.get("image", "")):
            assert "query-path" not in " ".join(map(str, svc.get("command", []))), name


def test_docker_backend_fails_at_once_naming_the_local_backend(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(HarnessError) as info:
        ensure_engine(timeout=1)
    message = str(info.value)
    assert "no Docker engine is reachable" in message
    assert "local backend" in message
