"""deploy/kubernetes/: every manifest is valid against the Kubernetes schemas (strict: an unknown
field is an error), and the pieces agree with each other and with the CLI they call."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is missing: pip install -e '.[test]'")

from packaging.requirements import Requirement  # noqa: E402  (after the skip)

from tests.support import cli, write_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"      # the oldest release the manifests promise to work on


def _documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def _by_kind(kind: str, name: str) -> dict:
    found = [d for _, d in _documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} manifests"
    return found[0]


def _container(job: dict) -> dict:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def _coordinator_argv() -> list[str]:
    script = _container(_by_kind("Job", "lunge-mp-coordinator"))["args"][0]
    command = script.split(";")[0]                 # the run, before printing results.json
    return shlex.split(command)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize("name,doc", _documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_manifest_is_valid_against_the_kubernetes_schema(name, doc):
    for version in (KUBERNETES_VERSION, kubernetes_validate.latest_version()):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_manifests_hold_the_pieces_the_readme_names():
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in _documents()}
    assert kinds == {("ConfigMap", "lunge-mp-test"), ("Service", "lunge-mp-coordinator"),
                     ("Job", "lunge-mp-coordinator"), ("Job", "lunge-mp-workers"),
                     ("PersistentVolumeClaim", "lunge-mp-results")}
    workers = _by_kind("Job", "lunge-mp-workers")["spec"]
    assert workers["completionMode"] == "Indexed"
    assert workers["parallelism"] == workers["completions"]


def test_the_coordinator_waits_for_exactly_the_workers_the_job_starts():
    workers = _by_kind("Job", "lunge-mp-workers")
    per_pod = int(_option(_container(workers)["args"], "--workers"))
    expected = workers["spec"]["completions"] * per_pod
    assert int(_option(_coordinator_argv(), "--remote-workers")) == expected


def test_workers_connect_to_the_coordinators_service_port():
    service = _by_kind("Service", "lunge-mp-coordinator")
    job = _by_kind("Job", "lunge-mp-coordinator")
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in _container(job)["ports"]}
    assert container_ports[port["targetPort"]] == port["port"]
    listen = _option(_coordinator_argv(), "--listen")
    assert listen == f"tcp://0.0.0.0:{container_ports[port['targetPort']]}"
    connect = _option(_container(_by_kind("Job", "lunge-mp-workers"))["args"], "--connect")
    assert connect == f"tcp://{service['metadata']['name']}:{port['port']}"


def test_every_pod_runs_as_non_root_from_one_image_with_its_keys_read_only():
    images = set()
    for name in ("lunge-mp-coordinator", "lunge-mp-workers"):
        pod = _by_kind("Job", name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["restartPolicy"] == "Never"       # a late joiner is refused anyway
        container = _container(_by_kind("Job", name))
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        images.add(container["image"])
        keys = [v for v in pod["volumes"] if v["name"] == "keys"][0]
        assert keys["secret"]["defaultMode"] & 0o007 == 0, "keys readable by others"
        mount = [m for m in container["volumeMounts"] if m["name"] == "keys"][0]
        assert mount["readOnly"] is True
    assert len(images) == 1


def test_the_manifests_call_the_cli_with_options_it_has():
    from lunge_mp.cli import main
    run_argv = _coordinator_argv()
    assert run_argv[:2] == ["lunge-mp", "run"]
    for argv in (run_argv[1:], _container(_by_kind("Job", "lunge-mp-workers"))["args"]):
        command = main.get_command(None, argv[0])
        assert command is not None, f"lunge-mp has no command {argv[0]!r}"
        args = [re.sub(r"\$\(\w+\)", "0", a) for a in argv[1:]]   # the pod's own variables
        command.make_context(argv[0], args)     # raises click.UsageError on an unknown option


def test_the_configmaps_test_is_a_valid_config(tmp_path):
    test = _by_kind("ConfigMap", "lunge-mp-test")["data"]["test.yaml"]
    env = {e["name"]: e["value"] for e in _container(_by_kind("Job", "lunge-mp-coordinator"))["env"]}
    path = write_config(tmp_path, test)
    out = cli("validate", str(path), *[a for k, v in env.items() for a in ("-e", f"{k}={v}")])
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_image_pins_every_dependency_within_pyproject_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (DEPLOY / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{req.name} is not pinned in deploy/kubernetes/requirements.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} outside {req.specifier}"
