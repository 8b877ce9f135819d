"""deploy/k8s/: every manifest parses and has the structure Kubernetes and the operators (Strimzi, ECK)
expect, the ConfigMap holds only real RASD_ settings, and the KafkaTopic resources match `topic_plan`
for those settings. The built-in kinds are validated (strictly: no unknown fields) against the Kubernetes
API's own schemas shipped in `kubernetes-validate`; `kubectl --dry-run=client` needs a server to discover
kinds, and the operators' CRD schemas are not packaged, so their resources get the structural checks."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from pipeline.settings import Settings
from pipeline.topics import topic_plan

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"

KNOWN_KINDS = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"),
}
WORKLOADS = {"Deployment", "Job"}
OPERATOR_GROUPS = ("kafka.strimzi.io/", "elasticsearch.k8s.elastic.co/")
KUBERNETES_VERSION = "1.33.0"  # the oldest release still supported upstream when this was written


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:  # a leading comment block before `---` is an empty document
                yield path.name, doc


DOCS = list(_documents())


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in DOCS if d["kind"] == kind]


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _of_kind(kind) if d["metadata"]["name"] == name]
    return doc


@pytest.fixture(scope="module")
def config() -> dict[str, str]:
    data: dict[str, str] = _one("ConfigMap", "rasd-config")["data"]
    return data


@pytest.fixture(scope="module")
def settings(config: dict[str, str]) -> Settings:
    """The Settings a Rasd pod builds from the ConfigMap (validated like the real environment)."""
    return Settings(**{k.removeprefix("RASD_").lower(): v for k, v in config.items()})


def test_there_are_manifests() -> None:
    assert len(DOCS) >= 10
    assert all(path.endswith(".yaml") for path, _ in DOCS)


@pytest.mark.parametrize(("path", "doc"), DOCS, ids=[f"{p}:{d.get('kind')}" for p, d in DOCS])
def test_every_document_is_a_known_named_resource(path: str, doc: dict[str, Any]) -> None:
    assert (doc.get("apiVersion"), doc.get("kind")) in KNOWN_KINDS, path
    name = doc["metadata"]["name"]
    assert name and name == name.lower() and len(name) <= 63, name
    if doc["kind"] != "Namespace":
        assert doc["metadata"]["namespace"] == "rasd", f"{path}: {name}"


def _builtin() -> list[tuple[str, dict[str, Any]]]:
    return [(p, d) for p, d in DOCS if not d["apiVersion"].startswith(OPERATOR_GROUPS)]


@pytest.mark.parametrize(("path", "doc"), _builtin(), ids=[f"{p}:{d['kind']}" for p, d in _builtin()])
def test_builtin_resources_match_the_kubernetes_schema(path: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_mistakes() -> None:
    (deployment, *_) = [d for _, d in _builtin() if d["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["replica"] = 2  # misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "http"}]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_names_are_unique_per_kind() -> None:
    keys = [(d["kind"], d["metadata"]["name"]) for _, d in DOCS]
    assert len(keys) == len(set(keys))


def test_namespace_sorts_first() -> None:
    assert DOCS[0][1]["kind"] == "Namespace"  # `kubectl apply -f deploy/k8s/` applies files in name order


@pytest.mark.parametrize("doc", _of_kind("Deployment"), ids=lambda d: d["metadata"]["name"])
def test_deployment_selector_matches_template_labels(doc: dict[str, Any]) -> None:
    selector = doc["spec"]["selector"]["matchLabels"]
    labels = doc["spec"]["template"]["metadata"]["labels"]
    assert selector and selector.items() <= labels.items()


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for _, d in DOCS if d["kind"] in WORKLOADS]


@pytest.mark.parametrize(("name", "pod"), _pod_specs(), ids=[n for n, _ in _pod_specs()])
def test_workload_containers(name: str, pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    volumes = {v["name"] for v in pod.get("volumes", [])}
    for container in pod["containers"]:
        assert container["image"], name
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
        assert resources["limits"]["memory"], name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        for env in container.get("env", []):
            assert env["name"].startswith("RASD_"), f"{name}: {env['name']}"
            assert env["name"].removeprefix("RASD_").lower() in Settings.model_fields, env["name"]
            assert "value" not in env or "KEY" not in env["name"], "secrets come from a Secret"
        for source in container.get("envFrom", []):
            assert source["configMapRef"]["name"] == "rasd-config"
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes, f"{name}: {mount['name']}"


def test_configmap_keys_are_rasd_settings(config: dict[str, str], settings: Settings) -> None:
    unknown = [k for k in config if not k.startswith("RASD_")]
    assert not unknown
    not_settings = [k for k in config if k.removeprefix("RASD_").lower() not in Settings.model_fields]
    assert not not_settings, f"not Rasd settings: {not_settings}"
    assert settings.kafka_bootstrap == "rasd-kafka-bootstrap:9092"  # Strimzi's bootstrap Service of `rasd`
    assert not any("API_KEY" in k or "PASSWORD" in k for k in config), "secrets belong in a Secret"


def _expected(settings: Settings) -> str:
    """What 11-kafka-topics.yaml should say, shown when it drifts from the plan."""
    return "\n".join(
        f"{s.name}: partitions={s.partitions} replicas={s.replication} "
        + " ".join(f"{k}={v}" for k, v in sorted(s.configs.items()))
        for s in topic_plan(settings)
    )


def test_kafka_topics_match_the_plan(settings: Settings) -> None:
    planned = {s.name: s for s in topic_plan(settings)}
    topics = {d["spec"].get("topicName", d["metadata"]["name"]): d for d in _of_kind("KafkaTopic")}
    drift = f"11-kafka-topics.yaml drifted from topic_plan(settings); expected:\n{_expected(settings)}"
    assert set(topics) == set(planned), drift
    for name, plan in planned.items():
        doc = topics[name]
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == _one("Kafka", "rasd")["metadata"]["name"]
        spec = doc["spec"]
        assert (spec["partitions"], spec["replicas"]) == (plan.partitions, plan.replication), drift
        for key, value in plan.configs.items():
            assert str(spec["config"].get(key)) == value, f"{name} {key}: {drift}"


def test_kafka_is_kraft_with_a_node_pool(settings: Settings) -> None:
    kafka = _one("Kafka", "rasd")
    assert "zookeeper" not in kafka["spec"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert kafka["spec"]["kafka"]["version"].startswith("4.")
    pools = _of_kind("KafkaNodePool")
    assert pools and all(p["metadata"]["labels"]["strimzi.io/cluster"] == "rasd" for p in pools)
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    assert settings.topic_replication <= brokers
    assert "topicOperator" in kafka["spec"]["entityOperator"]


def test_elasticsearch_is_9_and_rasd_uses_it(settings: Settings) -> None:
    es = _one("Elasticsearch", "rasd")
    assert es["spec"]["version"].startswith("9.")
    assert settings.search_backend == "elasticsearch"
    assert settings.elasticsearch_url == "https://rasd-es-http:9200"  # ECK's HTTP Service of `rasd`
    assert settings.elasticsearch_ca_certs is not None
    for name in ("rasd-worker", "rasd-api"):
        pod = _one("Deployment", name)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
        assert secrets["RASD_ELASTICSEARCH_PASSWORD"] == {"name": "rasd-es-elastic-user", "key": "elastic"}
        assert secrets["RASD_ELASTICSEARCH_API_KEY"]["optional"] is True
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        ca_dir = str(settings.elasticsearch_ca_certs.parent)
        volume = next(v for v in pod["volumes"] if v["name"] == mounts[ca_dir])
        assert volume["secret"]["secretName"] == "rasd-es-http-certs-public"  # ECK's CA of `rasd`


def test_api_is_probed_on_healthz() -> None:
    api = _one("Deployment", "rasd-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "api"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "httpGet" not in container["livenessProbe"]  # an ES outage must not restart the API
    service = _one("Service", "rasd-api")
    assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_worker_replicas_fit_the_partitions(settings: Settings) -> None:
    worker = _one("Deployment", "rasd-worker")
    assert 1 <= worker["spec"]["replicas"] <= settings.topic_partitions
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]


def test_one_connector(settings: Settings) -> None:
    connector = _one("Deployment", "rasd-connector")
    assert connector["spec"]["replicas"] == 1
    assert connector["spec"]["strategy"]["type"] == "Recreate"
    assert connector["spec"]["template"]["spec"]["containers"][0]["args"] == ["ingest", "--forever"]
    claim = connector["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert _one("PersistentVolumeClaim", claim)


def test_topics_job_runs_the_command() -> None:
    job = _one("Job", "rasd-topics")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["topics", "create"]
