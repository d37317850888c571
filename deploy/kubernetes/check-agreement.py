#!/usr/bin/env python3
"""Checks that rendered Kubernetes manifests and the services' code agree.

    check-agreement.py --bin-dir target/debug RENDERED.yaml...

Each RENDERED.yaml is one overlay as `kubectl kustomize` prints it. Every fact about the code is
taken from the code itself, so the check follows it as it changes:

- the variables a service reads: `<binary> --variables` (the binary is named like the container);
- its default port: `DEFAULT_PORT` in the service's crate;
- its shutdown deadline: `SHUTDOWN_DEADLINE` in service-kit;
- that the probe and metrics paths are served, and the settings accepted: each Deployment's
  binary is started with the environment the manifests give it, on loopback.

Static checks, per Deployment: every variable set (env, envFrom ConfigMaps and Secrets) is one
the service reads; PORT is set and equals the container port and the service's default; probes,
Service, scrape annotations and Ingress point at that port; liveness and start-up probe
/health/live, readiness /health/ready; terminationGracePeriodSeconds exceeds the preStop sleep
plus the shutdown deadline; every namespaced object is in the Deployments' namespace; a SQLite database lives on a mounted, writable PersistentVolumeClaim
with one replica, strategy Recreate and no autoscaler (one writer), a PostgreSQL one has two
replicas or more rolled with maxUnavailable 0; PUBLIC_URL is the service's host on the Ingress;
every URL naming a Service in the namespace reaches it through the network policies (egress of
the caller, ingress of the callee, DNS); calendar's NOTIFICATION_TOKEN is one of notifications'
API_TOKENS and its CONTACTS_TOKEN one of contacts'; each <SERVICE>_PUBLIC_URL is that service's
PUBLIC_URL; every checkov skip annotation gives its reason; a ServiceMonitor (the optional
component) selects exactly the three Services, on a port each has, at the path the pods' scrape
annotations give, and the network policies let Prometheus (pods `app.kubernetes.io/name:
prometheus` in the namespace `monitoring`) reach that port. Then, run: the services answer
/health/live, /health/ready and the scrape path and accept the rendered settings; contacts
created before calendar starts (enough for an archive page) reach calendar through the configured
feed URL (with calendar's CONTACTS_TOKEN); the rendered credentials are accepted (tokens, and
the login page with ADMIN_USER / ADMIN_PASSWORD), and a request without them is refused; an invitation reaches notifications with the
configured token (in mailbox mode); each service exits 0 on SIGTERM. For the run, HOST is
loopback, PORT a free port, DATABASE_URL a fresh SQLite file, every PUBLIC_URL a closed loopback
port (the public address is not reachable from inside the cluster either), and URLs naming a
Service point at that service's process: nothing leaves the machine.

Prints one line per finding and `N passed, M failed` last; exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import base64
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
LIVE_PATH, READY_PATH = "/health/live", "/health/ready"
# Kinds without a namespace, among those such manifests hold.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "PriorityClass", "CustomResourceDefinition", "IngressClass"}


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}{': ' + detail if detail else ''}")
        return ok


# ---------------------------------------------------------------- facts from the code


def source_constant(pattern: str, files: list[Path], what: str) -> int:
    """The one integer `pattern` (a regex with one group) captures in `files`."""
    found = set()
    for path in files:
        for m in re.finditer(pattern, path.read_text(encoding="utf-8")):
            found.add(int(m.group(1)))
    if len(found) != 1:
        sys.exit(f"check-agreement: expected one {what} in the source, found {sorted(found) or 'none'}")
    return found.pop()


def rust_files(crate: str) -> list[Path]:
    return [Path(p) for p in glob.glob(str(ROOT / crate / "src" / "**" / "*.rs"), recursive=True)]


def shutdown_deadline_secs() -> int:
    return source_constant(
        r"const\s+SHUTDOWN_DEADLINE\s*:\s*Duration\s*=\s*Duration::from_secs\((\d+)\)",
        rust_files("service-kit"),
        "SHUTDOWN_DEADLINE",
    )


def default_port(service: str) -> int:
    return source_constant(r"const\s+DEFAULT_PORT\s*:\s*u16\s*=\s*(\d+)", rust_files(service), f"{service} DEFAULT_PORT")


def variables_read(binary: Path) -> list[str]:
    out = subprocess.run([str(binary), "--variables"], capture_output=True, text=True, timeout=30, check=True)
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if not names:
        sys.exit(f"check-agreement: {binary} --variables printed nothing")
    return names


# ---------------------------------------------------------------- the rendered objects


@dataclass
class Workload:
    name: str
    deployment: dict
    container: dict
    env: dict[str, str] = field(default_factory=dict)  # name -> value, as the container sees it
    sources: dict[str, str] = field(default_factory=dict)  # name -> where it is set

    @property
    def pod_spec(self) -> dict:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def pod_labels(self) -> dict:
        return self.deployment["spec"]["template"]["metadata"].get("labels", {})

    def port(self, ref) -> int | None:
        """A container port by number or name."""
        for p in self.container.get("ports", []):
            if ref in (p.get("name"), p.get("containerPort")):
                return p["containerPort"]
        return None


class Rendered:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.objects = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o.get("kind") == kind]

    def named(self, kind: str, name: str) -> dict | None:
        return next((o for o in self.of_kind(kind) if o["metadata"]["name"] == name), None)

    def namespace_labels(self, namespace: str) -> dict:
        ns = self.named("Namespace", namespace) or {"metadata": {}}
        return {**ns["metadata"].get("labels", {}), "kubernetes.io/metadata.name": namespace}


def data_of(obj: dict) -> dict[str, str]:
    values = dict(obj.get("data") or {})
    if obj["kind"] == "Secret":
        values = {k: base64.b64decode(v).decode() for k, v in values.items()}
    values.update(obj.get("stringData") or {})
    return values


def resolve_env(rendered: Rendered, workload: Workload, report: Report, label: str) -> None:
    """Fills workload.env as Kubernetes would: envFrom in order, then env."""
    for source in workload.container.get("envFrom", []):
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if key not in source:
                continue
            name = source[key]["name"]
            obj = rendered.named(kind, name)
            if obj is None:
                report.check(bool(source[key].get("optional")), f"{label}: envFrom {kind} {name} exists")
                continue
            for var, value in data_of(obj).items():
                var = source.get("prefix", "") + var
                workload.env[var], workload.sources[var] = value, f"{kind} {name}"
    for item in workload.container.get("env", []):
        var = item["name"]
        if "value" in item:
            workload.env[var] = str(item["value"])
        elif "valueFrom" in item:
            ref = item["valueFrom"]
            kind, sel = ("ConfigMap", ref.get("configMapKeyRef")) if "configMapKeyRef" in ref else ("Secret", ref.get("secretKeyRef"))
            if sel is None:
                report.check(False, f"{label}: env {var} comes from a ConfigMap or Secret", "fieldRef/resourceFieldRef")
                continue
            obj = rendered.named(kind, sel["name"])
            values = data_of(obj) if obj else {}
            if report.check(sel["key"] in values, f"{label}: env {var} from {kind} {sel['name']} key {sel['key']} exists"):
                workload.env[var] = values[sel["key"]]
        else:
            workload.env[var] = ""
        workload.sources[var] = "env"


# ---------------------------------------------------------------- selectors and network policies


def selects(selector: dict | None, labels: dict) -> bool:
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def policy_types(policy: dict) -> set[str]:
    spec = policy["spec"]
    if "policyTypes" in spec:
        return set(spec["policyTypes"])
    return {"Ingress"} | ({"Egress"} if "egress" in spec else set())


def port_matches(rule_ports: list | None, port: int, port_name: str | None, protocol: str) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None or want == port or (port_name and want == port_name):
            return True
        if isinstance(want, int) and p.get("endPort") and want <= port <= p["endPort"]:
            return True
    return False


def peer_matches(peers: list | None, labels: dict, ns_labels: dict) -> bool:
    """Whether a pod (labels, in a namespace with ns_labels) is among the peers. ipBlocks are
    for addresses outside the cluster, so they are not taken to cover pods."""
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            continue
        if "namespaceSelector" in peer and not selects(peer["namespaceSelector"], ns_labels):
            continue
        if selects(peer.get("podSelector", {}), labels):
            return True
    return False


def allowed(policies: list[dict], direction: str, pod: dict, peer: dict, ns_labels: dict,
            port: int, port_name: str | None, protocol: str = "TCP") -> bool:
    """Whether `pod` may send to (direction Egress) or receive from (Ingress) `peer` on a port
    (of the receiving side). Both pods are in the namespace whose labels are ns_labels."""
    relevant = [p for p in policies if direction in policy_types(p) and selects(p["spec"].get("podSelector", {}), pod)]
    if not relevant:
        return True  # nothing isolates the pod in this direction
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    for policy in relevant:
        for rule in policy["spec"].get(key) or []:
            if peer_matches(rule.get(peers_key), peer, ns_labels) and port_matches(rule.get("ports"), port, port_name, protocol):
                return True
    return False


def dns_allowed(policies: list[dict], pod: dict) -> bool:
    relevant = [p for p in policies if "Egress" in policy_types(p) and selects(p["spec"].get("podSelector", {}), pod)]
    if not relevant:
        return True
    return any(
        port_matches(rule.get("ports"), 53, None, "UDP") and rule.get("to")
        for policy in relevant
        for rule in policy["spec"].get("egress") or []
    )


# ---------------------------------------------------------------- static checks


def probe_port(workload: Workload, probe: dict) -> int | None:
    action = probe.get("httpGet") or {}
    return workload.port(action.get("port"))


def service_for(rendered: Rendered, host: str, namespace: str):
    """The Service a URL host names from inside the namespace (name, name.ns, name.ns.svc...)."""
    parts = host.split(".")
    name = parts[0]
    if len(parts) > 1 and parts[1] != namespace:
        return None
    if len(parts) > 2 and parts[2] != "svc":
        return None
    return rendered.named("Service", name)


def static_checks(rendered: Rendered, workloads: list[Workload], read: dict[str, list[str]],
                  deadline: int, report: Report, overlay: str) -> None:
    policies = rendered.of_kind("NetworkPolicy")
    hpas = rendered.of_kind("HorizontalPodAutoscaler")
    ingresses = rendered.of_kind("Ingress")
    by_labels = lambda labels: [w for w in workloads if selects({"matchLabels": labels}, w.pod_labels)]

    namespaces = {w.deployment["metadata"].get("namespace") for w in workloads}
    report.check(len(namespaces) == 1 and None not in namespaces, f"{overlay}: the Deployments share a namespace",
                 str(namespaces))
    misplaced = [f"{o['kind']}/{o['metadata']['name']} in {o['metadata'].get('namespace')}" for o in rendered.objects
                 if o.get("kind") not in CLUSTER_SCOPED and o["metadata"].get("namespace") not in namespaces]
    report.check(not misplaced, f"{overlay}: every namespaced object is in the Deployments' namespace", ", ".join(misplaced))

    for obj in rendered.objects:
        for key, value in (obj.get("metadata", {}).get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check_id, _, reason = str(value).partition("=")
                report.check(bool(re.fullmatch(r"CKV2?_[A-Z0-9_]+", check_id)) and len(reason.strip()) >= 20,
                             f"{overlay}/{obj['kind']}/{obj['metadata']['name']}: checkov skip {check_id} gives its reason")

    report.check(
        any(p["spec"].get("podSelector") == {} and policy_types(p) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress") for p in policies),
        f"{overlay}: a default-deny NetworkPolicy (every pod, ingress and egress)",
    )

    for w in workloads:
        label = f"{overlay}/{w.name}"
        spec = w.deployment["spec"]
        namespace = w.deployment["metadata"].get("namespace", "default")
        ns_labels = rendered.namespace_labels(namespace)

        unknown = sorted(set(w.env) - set(read[w.name]))
        report.check(not unknown, f"{label}: every variable set is one {w.name} reads",
                     ", ".join(f"{v} ({w.sources[v]})" for v in unknown))

        http = w.port("http")
        want = default_port(w.name)
        report.check(http == want, f"{label}: container port http is {w.name}'s default port {want}", f"got {http}")
        report.check(w.env.get("PORT") == str(http), f"{label}: PORT equals the container port {http}",
                     f"PORT={w.env.get('PORT')!r}")
        host = w.env.get("HOST", "0.0.0.0")  # the image's ENV HOST
        report.check(not host.startswith("127.") and host not in ("::1", "localhost"),
                     f"{label}: HOST is not loopback (probes come from outside the pod)", host)

        probes = {k: w.container.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")}
        paths = {"startupProbe": LIVE_PATH, "livenessProbe": LIVE_PATH, "readinessProbe": READY_PATH}
        for kind, probe in probes.items():
            if not report.check(probe is not None, f"{label}: has a {kind}"):
                continue
            got = (probe.get("httpGet") or {}).get("path")
            report.check(got == paths[kind], f"{label}: {kind} asks {paths[kind]}", f"got {got!r}")
            report.check(probe_port(w, probe) == http, f"{label}: {kind} asks the http port", f"got {probe_port(w, probe)}")

        annotations = spec["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            report.check(annotations.get("prometheus.io/port") == str(http), f"{label}: prometheus.io/port is the http port",
                         annotations.get("prometheus.io/port", "unset"))

        pre_stop = ((w.container.get("lifecycle") or {}).get("preStop") or {})
        pre_stop_secs = (pre_stop.get("sleep") or {}).get("seconds", 0)
        if "exec" in pre_stop:
            cmd = pre_stop["exec"].get("command", [])
            pre_stop_secs = int(cmd[-1]) if cmd and cmd[-1].isdigit() else 0
        grace = w.pod_spec.get("terminationGracePeriodSeconds", 30)
        report.check(grace > pre_stop_secs + deadline,
                     f"{label}: terminationGracePeriodSeconds {grace} > preStop {pre_stop_secs} s + shutdown deadline {deadline} s")

        # One writer on SQLite; replicas sharing the work on PostgreSQL.
        db = w.env.get("DATABASE_URL", "sqlite:")  # unset: the service's SQLite default
        hpa = next((h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == w.name
                    and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"), None)
        strategy = spec.get("strategy", {})
        if db.startswith("sqlite:"):
            report.check(spec.get("replicas", 1) == 1 and hpa is None, f"{label}: SQLite: one replica and no autoscaler")
            report.check(strategy.get("type") == "Recreate", f"{label}: SQLite: strategy Recreate", str(strategy))
            db_path = urlsplit(db).path
            mount = next((m for m in w.container.get("volumeMounts", [])
                          if db_path.startswith(m["mountPath"].rstrip("/") + "/")), None)
            ok = mount is not None and not mount.get("readOnly")
            volume = next((v for v in w.pod_spec.get("volumes", []) if mount and v["name"] == mount["name"]), {})
            report.check(ok and "persistentVolumeClaim" in volume,
                         f"{label}: SQLite file {db_path} is on a writable PersistentVolumeClaim",
                         f"mount {mount}, volume {volume}")
            if ok and "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                report.check(rendered.named("PersistentVolumeClaim", claim) is not None,
                             f"{label}: PersistentVolumeClaim {claim} is among the objects")
        else:
            replicas = max(spec.get("replicas", 0), hpa["spec"].get("minReplicas", 1) if hpa else 0)
            report.check(replicas >= 2, f"{label}: PostgreSQL: two replicas or more", f"{replicas}")
            rolling = strategy.get("rollingUpdate", {})
            report.check(strategy.get("type", "RollingUpdate") == "RollingUpdate" and rolling.get("maxUnavailable") == 0,
                         f"{label}: PostgreSQL: RollingUpdate with maxUnavailable 0", str(strategy))

        # The Service and the Ingress in front of it.
        services = [s for s in rendered.of_kind("Service") if by_labels(s["spec"].get("selector", {})) == [w]]
        if report.check(len(services) == 1, f"{label}: one Service selects its pods (and only them)"):
            svc = services[0]
            for p in svc["spec"]["ports"]:
                report.check(w.port(p.get("targetPort", p["port"])) == http,
                             f"{label}: Service port {p['port']} reaches the http port")
            public = w.env.get("PUBLIC_URL")
            if report.check(bool(public), f"{label}: PUBLIC_URL is set"):
                u = urlsplit(public)
                backends = [
                    (rule.get("host"), ing) for ing in ingresses for rule in ing["spec"].get("rules", [])
                    for path in (rule.get("http") or {}).get("paths", [])
                    if path["backend"].get("service", {}).get("name") == svc["metadata"]["name"]
                    and path.get("path", "/") == "/"
                ]
                match = [(h, ing) for h, ing in backends if h == u.hostname]
                report.check(bool(match), f"{label}: PUBLIC_URL's host {u.hostname} routes to Service "
                             f"{svc['metadata']['name']} on the Ingress", f"Ingress hosts {[h for h, _ in backends]}")
                if match:
                    tls = any(u.hostname in t.get("hosts", []) for t in match[0][1]["spec"].get("tls", []))
                    report.check(u.scheme == ("https" if tls else "http"),
                                 f"{label}: PUBLIC_URL's scheme {u.scheme} fits the Ingress's TLS setting")

        # Every URL that names a Service of the namespace: the callee exists and answers on
        # that port, and the network policies let the call through.
        for var, value in sorted(w.env.items()):
            u = urlsplit(value) if re.match(r"^https?://", value) else None
            target = service_for(rendered, u.hostname or "", namespace) if u else None
            if target is None:
                continue
            callee = by_labels(target["spec"].get("selector", {}))
            svc_port = next((p for p in target["spec"]["ports"] if p["port"] == (u.port or 80)), None)
            if not report.check(len(callee) == 1 and svc_port is not None,
                                f"{label}: {var} names Service {target['metadata']['name']} on a port it has", value):
                continue
            c = callee[0]
            port = c.port(svc_port.get("targetPort", svc_port["port"]))
            name = next((p.get("name") for p in c.container["ports"] if p["containerPort"] == port), None)
            report.check(allowed(policies, "Egress", w.pod_labels, c.pod_labels, ns_labels, port, name),
                         f"{label}: network policies let it call {c.name}:{port} ({var})")
            report.check(allowed(policies, "Ingress", c.pod_labels, w.pod_labels, ns_labels, port, name),
                         f"{overlay}/{c.name}: network policies let {w.name} in on {port} ({var})")
            report.check(dns_allowed(policies, w.pod_labels), f"{label}: network policies let it ask the DNS ({var})")
        if not w.env.get("DATABASE_URL", "sqlite:").startswith("sqlite:"):
            report.check(dns_allowed(policies, w.pod_labels), f"{label}: network policies let it ask the DNS (DATABASE_URL)")

    # The header every page shows links the other services where browsers find them: each
    # <SERVICE>_PUBLIC_URL is that service's own PUBLIC_URL.
    for w in workloads:
        for other in workloads:
            if other is w:
                continue
            var = f"{other.name.upper()}_PUBLIC_URL"
            report.check(w.env.get(var) is not None and w.env.get(var) == other.env.get("PUBLIC_URL"),
                         f"{overlay}/{w.name}: {var} is {other.name}'s PUBLIC_URL",
                         f"{w.env.get(var)} vs {other.env.get('PUBLIC_URL')}")

    # calendar's tokens are ones contacts and notifications accept.
    calendar = next((w for w in workloads if "NOTIFICATION_TOKEN" in w.env), None)
    for var, callee_var in (("NOTIFICATION_TOKEN", "NOTIFICATION_SERVICE"), ("CONTACTS_TOKEN", "CONTACTS_FEED")):
        if calendar is None or var not in calendar.env:
            report.check(calendar is not None and var in calendar.env, f"{overlay}: calendar sets {var}")
            continue
        host = urlsplit(calendar.env.get(callee_var, "")).hostname or ""
        callee = next((w for w in workloads if w.name == host), None)
        if not report.check(callee is not None and "API_TOKENS" in callee.env,
                            f"{overlay}: the service {callee_var} names sets API_TOKENS", host):
            continue
        accepted = [t.strip() for t in callee.env["API_TOKENS"].split(",")]
        report.check(calendar.env[var] in accepted,
                     f"{overlay}: {calendar.name}'s {var} is among {callee.name}'s API_TOKENS")
    for w in workloads:
        report.check("API_TOKENS" in w.env and "ADMIN_PASSWORD" in w.env,
                     f"{overlay}/{w.name}: API_TOKENS and ADMIN_PASSWORD are set (no service runs open)")
    service_monitor_checks(rendered, workloads, policies, report, overlay)


def service_monitor_checks(rendered: Rendered, workloads: list[Workload], policies: list[dict], report: Report,
                           overlay: str) -> None:
    """A ServiceMonitor (the optional component) scrapes exactly the three Services, on a port
    each names, at the path the pods' scrape annotations give, and the network policies let
    Prometheus (pods named prometheus in a namespace named monitoring) reach that port."""
    prometheus = {"app.kubernetes.io/name": "prometheus"}
    monitoring_ns = {"kubernetes.io/metadata.name": "monitoring"}
    for monitor in rendered.of_kind("ServiceMonitor"):
        label = f"{overlay}/ServiceMonitor/{monitor['metadata']['name']}"
        namespace = monitor["metadata"].get("namespace")
        spec = monitor["spec"]
        chosen = [svc for svc in rendered.of_kind("Service")
                  if svc["metadata"].get("namespace") == namespace
                  and selects(spec.get("selector"), svc["metadata"].get("labels", {}))]
        names = sorted(svc["metadata"]["name"] for svc in chosen)
        report.check(names == sorted(w.name for w in workloads), f"{label}: selects exactly the services' Services",
                     ", ".join(names) or "none")
        for endpoint in spec.get("endpoints", []):
            for svc in chosen:
                svc_port = next((p for p in svc["spec"].get("ports", []) if p.get("name") == endpoint.get("port")), None)
                where = f"{label}: endpoint port {endpoint.get('port')!r} of Service {svc['metadata']['name']}"
                if not report.check(svc_port is not None, f"{where} is one of its ports"):
                    continue
                pods = [w for w in workloads if selects({"matchLabels": svc["spec"].get("selector", {})}, w.pod_labels)]
                for w in pods:
                    target = w.port(svc_port.get("targetPort", svc_port.get("port")))
                    annotations = w.deployment["spec"]["template"]["metadata"].get("annotations", {})
                    path = annotations.get("prometheus.io/path", "/metrics")
                    report.check(endpoint.get("path", "/metrics") == path,
                                 f"{where}: scrapes {path}, the path {w.name}'s annotations give",
                                 str(endpoint.get("path")))
                    port_name = next((p.get("name") for p in w.container.get("ports", [])
                                      if p.get("containerPort") == target), None)
                    report.check(target is not None and allowed(policies, "Ingress", w.pod_labels, prometheus,
                                                                monitoring_ns, target, port_name),
                                 f"{where}: the network policies let Prometheus in to {w.name}:{target}")


# ---------------------------------------------------------------- the services, run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body=None, headers=None, timeout=5.0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except OSError as e:
        return None, Message(), str(e).encode()


def wait_for(predicate, seconds: float):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    return None


@dataclass
class Running:
    workload: Workload
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


def run_checks(workloads: list[Workload], rendered: Rendered, bin_dir: Path, deadline: int,
               report: Report, overlay: str, scratch: Path) -> None:
    ports = {w.name: free_port() for w in workloads}
    namespace = workloads[0].deployment["metadata"].get("namespace", "default")
    # (service, variable) -> the service its URL names; those services start first.
    callee_of: dict[tuple[str, str], str] = {}
    for w in workloads:
        for var, value in w.env.items():
            target = service_for(rendered, urlsplit(value).hostname or "", namespace) if re.match(r"^https?://", value) else None
            callee = [c for c in workloads if target and selects({"matchLabels": target["spec"].get("selector", {})}, c.pod_labels)]
            if callee:
                callee_of[(w.name, var)] = callee[0].name
    callers = {name for name, _ in callee_of}
    # The public address is not reachable from inside: links built from it must not be needed.
    unreachable = f"127.0.0.1:{closed_port()}"
    running: list[Running] = []

    def start(w: Workload) -> bool:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **w.env}
        env["HOST"], env["PORT"] = "127.0.0.1", str(ports[w.name])
        data = scratch / overlay / w.name
        data.mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite://{data}/{w.name}.db?mode=rwc"
        if w.env.get("PUBLIC_URL"):
            u = urlsplit(w.env["PUBLIC_URL"])
            env["PUBLIC_URL"] = urlunsplit((u.scheme, unreachable, u.path, u.query, u.fragment))
        for (name, var), callee in callee_of.items():  # Service URLs -> that service's process
            if name == w.name:
                u = urlsplit(w.env[var])
                env[var] = urlunsplit(("http", f"127.0.0.1:{ports[callee]}", u.path, u.query, u.fragment))
        log = scratch / overlay / f"{w.name}.log"
        process = subprocess.Popen([str(bin_dir / w.name)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        r = Running(w, process, ports[w.name], log)
        running.append(r)
        label = f"{overlay}/{w.name} (run)"
        ready = wait_for(lambda: process.poll() is not None or http("GET", r.base + READY_PATH)[0] == 200, 30)
        if not report.check(ready and process.poll() is None, f"{label}: starts with the rendered settings and gets ready",
                            f"exit {process.poll()}: {log.read_text(errors='replace')[-600:]}"):
            return False
        for path in (LIVE_PATH, READY_PATH):
            status = http("GET", r.base + path)[0]
            report.check(status == 200, f"{label}: GET {path} -> 200", f"{status}")
        annotations = w.deployment["spec"]["template"]["metadata"].get("annotations", {})
        metrics = annotations.get("prometheus.io/path", "/metrics")
        status, headers, body = http("GET", r.base + metrics)
        report.check(status == 200 and headers.get("Content-Type", "").startswith("text/plain")
                     and b"# TYPE" in body, f"{label}: GET {metrics} -> 200, Prometheus text", f"{status}")
        return True

    try:
        started = all([start(w) for w in workloads if w.name not in callers])
        by_name = {r.workload.name: r for r in running}
        calendar = next((w for w in workloads if (w.name, "CONTACTS_FEED") in callee_of), None)
        contacts = by_name.get(callee_of.get((calendar.name, "CONTACTS_FEED"), "")) if calendar else None
        people = prefill(contacts, report, overlay) if contacts and started else {}
        started = all([start(w) for w in workloads if w.name in callers]) and started
        if started:
            flow_checks(running, callee_of, people, report, overlay)
    finally:
        running = [r for r in running if r.process.poll() is None]  # those that failed are reported
        for r in running:
            r.process.send_signal(signal.SIGTERM)
        for r in running:
            label = f"{overlay}/{r.workload.name} (run)"
            try:
                code = r.process.wait(timeout=deadline + 5)
            except subprocess.TimeoutExpired:
                r.process.kill()
                code = "killed"
            report.check(code == 0, f"{label}: exits 0 on SIGTERM", f"{code}: {r.log.read_text(errors='replace')[-400:]}")


def bearer(r: Running) -> dict[str, str]:
    """The Authorization header with the first of a running service's API_TOKENS."""
    return {"Authorization": "Bearer " + r.workload.env.get("API_TOKENS", "").split(",")[0].strip()}


def logs_in(r: Running) -> bool:
    """Whether the login page takes the service's ADMIN_USER / ADMIN_PASSWORD (a 303 with a
    session cookie) and the cookie then opens a page."""
    user, password = r.workload.env.get("ADMIN_USER", "admin"), r.workload.env.get("ADMIN_PASSWORD", "")
    form = urllib.parse.urlencode({"user": user, "password": password}).encode()
    req = urllib.request.Request(r.base + "/login", data=form, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=5)
        return False
    except urllib.error.HTTPError as e:
        cookie = (e.headers.get("Set-Cookie") or "").split(";")[0]
        if e.code != 303 or not cookie:
            return False
    status = http("GET", r.base + "/", headers={"Cookie": cookie, "Accept": "text/html"})[0]
    return status in (200, 303)


def prefill(contacts: Running, report: Report, overlay: str) -> dict[str, str]:
    """Contacts created before calendar starts, until the feed has an archive page: calendar's
    catch-up then walks it, following the feed's links (which carry the public address)."""
    stamp = str(int(time.time() * 1000))
    auth = bearer(contacts)
    status = http("POST", contacts.base + "/contacts", {"firstname": "No", "lastname": "Token", "email": f"no.{stamp}@example.org"})[0]
    report.check(status == 401, f"{overlay} (run): contacts refuses a contact without a token", f"{status}")
    people: dict[str, str] = {}
    archived = False
    for i in range(1000):
        first = ("Jane", "Bob")[i] if i < 2 else f"Person{i}"
        email = f"{first.lower()}.{stamp}@example.org"
        status, _, body = http("POST", contacts.base + "/contacts", {"firstname": first, "lastname": "Doe", "email": email},
                               headers=auth)
        if status != 201:
            report.check(False, f"{overlay} (run): contacts creates {first}", f"{status} {body[:200]!r}")
            return {}
        people[first] = email
        archived = b'rel="prev-archive"' in http("GET", contacts.base + "/feed", headers=auth)[2]
        if archived and len(people) >= 2:
            break
    report.check(archived, f"{overlay} (run): contacts takes {len(people)} contacts before calendar starts, "
                 "and its feed has an archive page to walk")
    return people


def flow_checks(running: list[Running], callee_of: dict[tuple[str, str], str], people: dict[str, str],
                report: Report, overlay: str) -> None:
    """The contacts reach calendar over the configured feed URL (archive pages included); the
    configured credentials are accepted; an invitation reaches notifications with calendar's
    token (mailbox mode only: with SMTP_URL set it would be sent)."""
    by_name = {r.workload.name: r for r in running}
    calendar = next((r for r in running if (r.workload.name, "CONTACTS_FEED") in callee_of), None)
    notifications = by_name.get(callee_of.get((calendar.workload.name, "NOTIFICATION_SERVICE"), "")) if calendar else None
    if not report.check(bool(people and calendar and notifications),
                        f"{overlay} (run): calendar's CONTACTS_FEED and NOTIFICATION_SERVICE name running services"):
        return

    def users():
        status, _, body = http("GET", calendar.base + "/users?limit=200",
                               headers={"Accept": "application/json", **bearer(calendar)})
        items = json.loads(body).get("items", []) if status == 200 else []
        found = {u.get("email"): u for u in items}
        return found if all(e in found for e in people.values()) else None

    found = wait_for(users, 15)
    errors = [line for line in calendar.log.read_text(errors="replace").splitlines() if "feed step failed" in line]
    if not report.check(bool(found), f"{overlay} (run): calendar learns all {len(people)} contacts through CONTACTS_FEED",
                        (errors or ["no feed errors logged"])[-1][-400:]):
        return
    token = calendar.workload.env["NOTIFICATION_TOKEN"]
    status = http("GET", notifications.base + "/notifications", headers={"Authorization": f"Bearer {token}"})[0]
    report.check(status == 200, f"{overlay} (run): notifications accepts calendar's NOTIFICATION_TOKEN", f"{status}")
    status = http("GET", notifications.base + "/notifications")[0]
    report.check(status == 401, f"{overlay} (run): notifications refuses its job list without a token", f"{status}")
    for r in running:
        report.check(logs_in(r), f"{overlay} (run): {r.workload.name}'s login page accepts ADMIN_USER / ADMIN_PASSWORD")
    if notifications.workload.env.get("SMTP_URL"):
        print(f"note  {overlay} (run): SMTP_URL is set, so no invitation is sent (it would leave the machine)")
        return
    jane = found[people["Jane"]]["id"]
    status, headers, body = http("POST", f"{calendar.base}/calendar/{jane}",
                                 {"title": "Deployment check", "day": 24, "month": 12, "year": 2030},
                                 headers=bearer(calendar))
    if not report.check(status == 201, f"{overlay} (run): calendar creates an event", f"{status} {body[:200]!r}"):
        return
    event = headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
    status, _, body = http("POST", f"{calendar.base}/event/{event}/participants", [people["Bob"]],
                           headers=bearer(calendar))
    report.check(status in (200, 201, 204), f"{overlay} (run): calendar invites Bob", f"{status} {body[:200]!r}")

    def job():
        status, _, body = http("GET", notifications.base + "/notifications", headers={"Authorization": f"Bearer {token}"})
        return status == 200 and people["Bob"].encode() in body

    report.check(bool(wait_for(job, 15)), f"{overlay} (run): the invitation reaches notifications with the configured token")


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "debug")
    parser.add_argument("--no-run", action="store_true", help="static checks only")
    parser.add_argument("rendered", nargs="+", type=Path)
    args = parser.parse_args()

    report = Report()
    deadline = shutdown_deadline_secs()
    print(f"note  SHUTDOWN_DEADLINE in service-kit: {deadline} s")
    read: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="k8s-agreement-") as scratch:
        for path in args.rendered:
            rendered = Rendered(path)
            overlay = path.stem
            workloads = []
            for d in rendered.of_kind("Deployment"):
                containers = d["spec"]["template"]["spec"]["containers"]
                if not report.check(len(containers) == 1, f"{overlay}/{d['metadata']['name']}: one container"):
                    continue
                w = Workload(d["metadata"]["name"], d, containers[0])
                binary = args.bin_dir / w.container["name"]
                if not report.check(binary.is_file(), f"{overlay}/{w.name}: a binary {binary} for container {w.container['name']}"):
                    continue
                w.name = w.container["name"]
                read.setdefault(w.name, variables_read(binary))
                resolve_env(rendered, w, report, f"{overlay}/{w.name}")
                workloads.append(w)
            if not report.check(bool(workloads), f"{overlay}: has Deployments"):
                continue
            static_checks(rendered, workloads, read, deadline, report, overlay)
            if not args.no_run:
                run_checks(workloads, rendered, args.bin_dir, deadline, report, overlay, Path(scratch))
    print(f"{report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
