"""The container and the compose file: what `docker compose up` would run, checked here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from procs import free_port

from dmbot.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]


def metric_names() -> set[str]:
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for family in Metrics().registry.collect():
        # Labelled families have no samples until first used: name what they will expose.
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def test_the_compose_file_runs_two_instances_on_redis_with_aof_behind_a_proxy() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    instances = [name for name, s in services.items() if s.get("build") == "."]
    assert instances == ["dmbot-1", "dmbot-2"]
    for name in instances:
        assert services[name]["environment"]["DMBOT_STORE"].startswith("redis://redis:")
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    upstreams = re.findall(r"server (\S+):8000;", (REPO / "deploy" / "nginx.conf").read_text())
    assert upstreams == instances
    targets = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    assert targets["scrape_configs"][0]["static_configs"][0]["targets"] == [
        f"{name}:8000" for name in instances
    ]


def _compose() -> list[str] | None:
    """The compose command here: ``docker compose`` (v2), else ``docker-compose`` (v1)."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(_compose() is None, reason="no docker compose (nor docker-compose) here")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    shutil.copy(REPO / "docker-compose.yml", tmp_path)
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    shutil.copy(REPO / "deploy" / "env.example", tmp_path / ".env")  # as README says
    command = _compose()
    assert command is not None
    result = subprocess.run([*command, "config"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert {"redis", "dmbot-1", "dmbot-2", "proxy"} <= set(resolved["services"])


def test_the_dashboard_shows_only_metrics_dmbot_has() -> None:
    dashboard = json.loads((REPO / "deploy" / "dashboard.json").read_text())
    known = metric_names()
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bdmbot_\w+", target["expr"])
    }
    assert used and used <= known, used - known


def test_the_readme_lists_every_metric() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Deploy", 1)[1].split("\n## ", 1)[0]
    families = {family.name for family in Metrics().registry.collect()}
    missing = {name for name in families if f"`{name}" not in section}
    assert missing == set()


def _docker_daemon() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _docker_daemon(), reason="no Docker daemon here")
def test_the_image_answers_a_crc(tmp_path: Path) -> None:
    tag = f"dmbot-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "build", "-t", tag, str(REPO)], check=True, timeout=900)
    secret = "container-secret"
    name = f"dmbot-test-{uuid.uuid4().hex[:8]}"
    run = ["docker", "run", "-d", "--rm", "--name", name, "-p", "127.0.0.1::8000"]
    run += ["-e", f"TWITTER_CONSUMER_SECRET={secret}", tag]
    subprocess.run(run, check=True)
    try:
        port = (
            subprocess.run(
                ["docker", "port", name, "8000"], capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .rsplit(":", 1)[1]
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/webhooks/twitter", params={"crc_token": "YWJjMTIz"}
                )
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        digest = hmac.new(secret.encode(), b"YWJjMTIz", hashlib.sha256).digest()
        expected = "sha256=" + base64.b64encode(digest).decode()
        assert answer.json() == {"response_token": expected}
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def _dockerfile() -> tuple[dict[str, str], list[str], list[str], str]:
    """The Dockerfile's ENV, COPY sources, CMD and HEALTHCHECK command, as docker reads them."""
    lines: list[str] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        if raw.strip().startswith("#"):
            continue
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    env: dict[str, str] = {}
    sources: list[str] = []
    command: list[str] = []
    health = ""
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(dict(pair.split("=", 1) for pair in rest.split()))
        elif word == "COPY":
            sources += rest.split()[:-1]
        elif word == "CMD":
            command = json.loads(rest)
        elif word == "HEALTHCHECK":
            health = rest.split(" CMD ", 1)[1]
    return env, sources, command, health


def test_the_image_copies_files_the_context_holds() -> None:
    _, sources, _, _ = _dockerfile()
    ignored = (REPO / ".dockerignore").read_text().split()
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert source not in ignored, f"{source} is copied but .dockerignore leaves it out"


def test_the_image_command_serves_and_its_healthcheck_passes(tmp_path: Path) -> None:
    """What the container runs, run here: its CMD in a copy of what it COPYs, its ENV."""
    env, sources, command, health = _dockerfile()
    port = free_port()
    for source in sources:
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, tmp_path / source, symlinks=True)  # COPY keeps links
        else:
            shutil.copy(REPO / source, tmp_path / source)
    env["DMBOT_PORT"] = str(port)  # the image's own port may be taken on this machine
    env["DMBOT_STORE"] = f"sqlite:///{tmp_path / 'dmbot.db'}"  # /data is the image's volume
    environment = {"PATH": os.environ["PATH"], "TWITTER_CONSUMER_SECRET": "image-secret", **env}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            check = subprocess.run(
                ["sh", "-c", health.replace("python", sys.executable, 1)],
                env=environment,
                capture_output=True,
            )
            if check.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(0.2)
        assert check.returncode == 0, (tmp_path / "serve.log").read_text()
        answer = httpx.get(
            f"http://127.0.0.1:{port}/webhooks/twitter", params={"crc_token": "YWJjMTIz"}
        )
        assert answer.status_code == 200, (answer.status_code, answer.text)
        digest = hmac.new(b"image-secret", b"YWJjMTIz", hashlib.sha256).digest()
        assert answer.json() == {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
