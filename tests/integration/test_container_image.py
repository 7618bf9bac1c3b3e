"""The image of deploy/kubernetes/Dockerfile builds and runs lunge-mp as a non-root user.
Only where a docker daemon answers; elsewhere the test skips and says so."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _docker_answers() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return "the docker daemon is not reachable (docker info failed)"
    return None


@pytest.fixture(scope="module")
def image():
    why = _docker_answers()
    if why:
        pytest.skip(f"container image not built: {why}")
    tag = f"lunge-mp-test:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(["docker", "build", "-f", "deploy/kubernetes/Dockerfile", "-t", tag, "."],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=120)


def test_the_image_runs_lunge_mp_as_non_root(image):
    version = subprocess.run(["docker", "run", "--rm", image, "--version"],
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and "lunge-mp" in version.stdout
    uid = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", image, "-u"],
                         capture_output=True, text=True, timeout=120)
    assert uid.stdout.strip() == "10001"
