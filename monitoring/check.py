#!/usr/bin/env python3
"""Checks the monitoring material against the real services (run by .ci/monitoring.sh).

    monitoring/check.py --bin-dir target/debug

1. dashboard: every PromQL expression of monitoring/grafana/*.json, wrapped as a recording rule
   in a generated rule file, passes `promtool check rules`.
2. start-up scrape: the three service binaries are started on free ports with fresh SQLite
   databases, and each one's /metrics is scraped before any request reached it (calendar,
   which polls contacts and calls notifications, is started after their scrapes). Every series
   selector in the rule files and the dashboard must match a series there: counters and
   histograms in that first scrape, gauges (set by background workers) within a few seconds.
   Names Prometheus or the blackbox exporter make, recording rules, and metrics not exported
   yet (PENDING) are set apart, each with its reason.
3. runbook: the README's "Operating it" table has one row per alert, with the alert's severity.

Prints one line per check and ends with "monitoring: N passed, N failed".
"""

import argparse
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
import urllib.request

import promql_parser
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MONITORING = os.path.join(ROOT, "monitoring")
SERVICES = ("contacts", "calendar", "notifications")

# Series that do not come from the services' /metrics, and who makes them.
MADE_ELSEWHERE = {
    "up": "Prometheus (one per scrape target)",
    "probe_success": "the blackbox exporter (readiness probes)",
    "probe_duration_seconds": "the blackbox exporter (readiness probes)",
    "probe_http_status_code": "the blackbox exporter (readiness probes)",
}
# Metrics the rules already use but no service exports yet. Remove a name once a service
# exports it: this check then fails if it is still listed.
PENDING = {}
# Grafana's interval variables, replaced by typical values before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}

PASSED = 0
FAILED = 0


def ok(message):
    global PASSED
    PASSED += 1
    print(f"  ok   {message}")


def fail(message):
    global FAILED
    FAILED += 1
    print(f"  FAIL {message}")


# ---------------------------------------------------------------------------------------------
# The expressions

def rule_files():
    return sorted(glob.glob(os.path.join(MONITORING, "rules", "*.yml")))


def load_rules():
    """(alerts, records): alerts as dicts, records as {name: expr}; each with its file."""
    alerts, records = [], {}
    for path in rule_files():
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for group in doc["groups"]:
            for rule in group["rules"]:
                rule = dict(rule, file=os.path.relpath(path, ROOT))
                if "alert" in rule:
                    alerts.append(rule)
                else:
                    records[rule["record"]] = rule
    return alerts, records


def dashboard_expressions():
    """[(where, expr)] for every query target of every dashboard."""
    found = []

    def visit(node, path, title):
        if isinstance(node, dict):
            title = node.get("title", title)
            for target in node.get("targets", []) or []:
                if isinstance(target, dict) and "expr" in target:
                    found.append((f"{path}: panel '{title}' ({target.get('refId', '?')})", target["expr"]))
            for key, value in node.items():
                if key != "targets":
                    visit(value, path, title)
        elif isinstance(node, list):
            for item in node:
                visit(item, path, title)

    for path in sorted(glob.glob(os.path.join(MONITORING, "grafana", "*.json"))):
        with open(path, encoding="utf-8") as f:
            visit(json.load(f), os.path.relpath(path, ROOT), None)
    return found


def expand_grafana(expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def selectors(expr):
    """[(name, [(label, op, value)])] of every vector selector in the expression."""
    found = []

    def pre(node):
        if isinstance(node, promql_parser.VectorSelector):
            matchers = [(m.name, OPS[str(m.op)], m.value) for m in node.matchers.matchers]
            found.append((node.name, matchers))
        return True

    promql_parser.walk(promql_parser.parse(expr), pre, None)
    return found


# ---------------------------------------------------------------------------------------------
# 1. The dashboard's expressions are valid PromQL for promtool

def check_dashboard_syntax(expressions, promtool):
    if not expressions:
        fail("no dashboard expressions found under monitoring/grafana/")
        return
    unexpanded = [(w, e) for w, e in expressions if "$" in expand_grafana(e)]
    for where, expr in unexpanded:
        fail(f"{where}: a template variable this check cannot expand: {expr}")
    rules = [
        {"record": f"dashboard:expression_{i}", "expr": expand_grafana(expr)}
        for i, (_, expr) in enumerate(expressions)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)
        generated = f.name
    try:
        run = subprocess.run([promtool, "check", "rules", generated], capture_output=True, text=True)
    finally:
        os.unlink(generated)
    if run.returncode == 0:
        ok(f"promtool check rules accepts all {len(expressions)} dashboard expressions")
    else:
        output = run.stdout + run.stderr
        for i, (where, expr) in enumerate(expressions):
            if f"expression_{i}\"" in output:
                print(f"       {where}: {expr}")
        fail(f"promtool rejects dashboard expressions:\n{output}")


# ---------------------------------------------------------------------------------------------
# 2. The start-up scrape

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, name, bin_dir, workdir, env):
        self.name = name
        self.port = env["PORT"]
        self.log_path = os.path.join(workdir, f"{name}.log")
        base = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
        base.update(
            HOST="127.0.0.1",
            DATABASE_URL=f"sqlite://{workdir}/{name}.db?mode=rwc",
            RUST_LOG="warn",
            LOG_FORMAT="text",
        )
        base.update(env)
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [os.path.join(bin_dir, name)], env=base, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=workdir,
        )

    def wait_listening(self, seconds=60):
        """Waits for the port to accept TCP connections: no HTTP request is sent."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", int(self.port)), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port} within {seconds}s: {self.tail()}")

    def scrape(self):
        """[(sample name, labels, family type)] of GET /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
            text = response.read().decode("utf-8")
        return [
            (sample.name, sample.labels, family.type)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def tail(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-15:])


def start_and_scrape(bin_dir, workdir, gauges_wanted):
    """First scrape of each service before any request reached it, and a later one in which
    `gauges_wanted(scrapes)` holds (background workers set gauges after their first round)."""
    token = "monitoring-check-token"
    # All three ask for credentials, as deployed; /metrics and /health stay open.
    auth = {"API_TOKENS": token, "ADMIN_PASSWORD": "monitoring-check"}
    ports = {s: str(free_port()) for s in SERVICES}
    started = []
    first = {}
    try:
        contacts = Service("contacts", bin_dir, workdir, {"PORT": ports["contacts"], **auth})
        notifications = Service(
            "notifications", bin_dir, workdir,
            {"PORT": ports["notifications"], **auth},
        )
        started += [contacts, notifications]
        for service in (contacts, notifications):
            service.wait_listening()
            first[service.name] = service.scrape()
        calendar = Service(
            "calendar", bin_dir, workdir,
            {
                "PORT": ports["calendar"],
                **auth,
                "CONTACTS_FEED": f"http://127.0.0.1:{ports['contacts']}/feed",
                "CONTACTS_TOKEN": token,
                "NOTIFICATION_SERVICE": f"http://127.0.0.1:{ports['notifications']}",
                "NOTIFICATION_TOKEN": token,
            },
        )
        started.append(calendar)
        calendar.wait_listening()
        first["calendar"] = calendar.scrape()

        later = first
        deadline = time.monotonic() + 15
        while True:
            later = {s.name: s.scrape() for s in started}
            if gauges_wanted(later) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for service in started:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited during the check: {service.tail()}")
        return first, later
    finally:
        for service in started:
            service.stop()


def kind_of(name):
    if name.endswith("_total"):
        return "counter"
    if re.search(r"_(bucket|count|sum)$", name):
        return "histogram"
    return "gauge"


def label_matches(op, pattern, value):
    if op == "=":
        return value == pattern
    if op == "!=":
        return value != pattern
    if op == "=~":
        return re.fullmatch(pattern, value) is not None
    if op == "!~":
        return re.fullmatch(pattern, value) is None
    raise ValueError(f"unknown matcher {op}")


def services_for(matchers):
    """The services a selector can match, from its `job` matchers (target labels)."""
    chosen = list(SERVICES)
    for label, op, value in matchers:
        if label == "job":
            chosen = [s for s in chosen if label_matches(op, value, s)]
    return chosen


def evaluate(selector, scrapes):
    """None when the selector matches in `scrapes` as it should, else the problem."""
    name, matchers = selector
    labels = [(l, op, v) for l, op, v in matchers if l not in ("job", "instance")]
    exporters = {s: [x for x in scrapes[s] if x[0] == name] for s in services_for(matchers)}
    exporters = {s: samples for s, samples in exporters.items() if samples}
    if not exporters:
        return f"no service exports {name}"
    for service, samples in exporters.items():
        if not any(all(label_matches(op, v, sample[1].get(l, "")) for l, op, v in labels) for sample in samples):
            shown = ", ".join(sorted({str(s[1]) for s in samples})[:5])
            return f"{service} exports {name} but no series matches {format_matchers(labels)} (has {shown})"
        wrong = {s[2] for s in samples} - {kind_of(name), "unknown"}
        if kind_of(name) == "histogram":
            wrong -= {"summary"}
        if wrong:
            return f"{service} exports {name} as {', '.join(sorted(wrong))}, the rules read it as a {kind_of(name)}"
    return None


def format_matchers(matchers):
    return "{" + ", ".join(f'{l}{op}"{v}"' for l, op, v in matchers) + "}"


def check_scrape(bin_dir, sources, records):
    """sources: [(where, expr)] of the rules and the dashboard."""
    used = {}  # (name, matchers as text) -> (selector, [where])
    for where, expr in sources:
        try:
            found = selectors(expand_grafana(expr))
        except ValueError as e:
            fail(f"{where}: cannot read the series of {expr!r}: {e}")
            continue
        for name, matchers in found:
            key = (name, format_matchers(matchers))
            used.setdefault(key, ((name, matchers), []))[1].append(where)

    service_selectors, set_apart = [], {}
    for (name, _), (selector, wheres) in sorted(used.items()):
        if name in records:
            continue
        if ":" in name:
            fail(f"{wheres[0]} reads {name}, which no recording rule defines")
        elif name in MADE_ELSEWHERE:
            set_apart.setdefault(name, MADE_ELSEWHERE[name])
        elif name in PENDING:
            set_apart.setdefault(name, f"not exported yet: {PENDING[name]}")
        else:
            service_selectors.append((selector, wheres))

    def gauges_present(scrapes):
        return all(
            evaluate(sel, scrapes) is None for sel, _ in service_selectors if kind_of(sel[0]) == "gauge"
        )

    with tempfile.TemporaryDirectory(prefix="monitoring-check-") as workdir:
        t0 = time.monotonic()
        first, later = start_and_scrape(bin_dir, workdir, gauges_present)
        took = time.monotonic() - t0
    counts = ", ".join(f"{s} {len(first[s])}" for s in SERVICES)
    print(f"       start-up scrape ({took:.1f}s): series per service: {counts}")

    by_name = {}
    for selector, wheres in service_selectors:
        by_name.setdefault(selector[0], []).append((selector, wheres))
    for name, uses in sorted(by_name.items()):
        scrapes = later if kind_of(name) == "gauge" else first
        when = "within seconds of start-up" if kind_of(name) == "gauge" else "in the first scrape"
        problems = []
        for selector, wheres in uses:
            problem = evaluate(selector, scrapes)
            if problem:
                more = f" and {len(wheres) - 1} more" if len(wheres) > 1 else ""
                problems.append(f"{name}{format_matchers(selector[1])} (in {wheres[0]}{more}): {problem}")
        for problem in problems:
            fail(problem)
        if not problems:
            exporters = sorted({s for sel, _ in uses for s in services_for(sel[1]) if any(x[0] == name for x in scrapes[s])})
            count = sum(len(w) for _, w in uses)
            ok(f"{name}: {when}, from {', '.join(exporters)} ({len(uses)} selectors, {count} uses)")

    for name, why in sorted(set_apart.items()):
        everywhere = [s for s in SERVICES if any(x[0] == name for x in later[s])]
        if name in PENDING and everywhere:
            fail(f"{name} is exported now (by {', '.join(everywhere)}): remove it from PENDING in monitoring/check.py")
        elif everywhere:
            fail(f"{name} is said to come from {why}, but {', '.join(everywhere)} exports it")
        else:
            ok(f"{name}: set apart, {why}")

    check_http_routes(first)


def check_http_routes(first):
    """Every operation of each service's OpenAPI document has its zero series from start-up."""
    for service in SERVICES:
        samples = first[service]
        errors = {(s[1].get("method"), s[1].get("route")) for s in samples
                  if s[0] == "http_requests_total" and s[1].get("status") == "500"}
        durations = {(s[1].get("method"), s[1].get("route")) for s in samples
                     if s[0] == "http_request_duration_seconds_count"}
        if not errors or errors != durations:
            fail(f"{service}: http_requests_total{{status=\"500\"}} covers {len(errors)} routes, "
                 f"http_request_duration_seconds {len(durations)}: {sorted(errors ^ durations)[:5]}")
        else:
            ok(f"{service}: {len(errors)} method/route pairs have http_requests_total{{status=\"500\"}} "
               "and http_request_duration_seconds at zero from start-up")


# ---------------------------------------------------------------------------------------------
# 3. The runbook

def check_runbook(alerts):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    match = re.search(r"^## Operating it\n(.*?)(?=^## )", readme, re.S | re.M)
    if not match:
        fail("README.md has no '## Operating it' section")
        return
    rows = {}
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 4 and re.fullmatch(r"`[A-Za-z]+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    by_name = {a["alert"]: a for a in alerts}
    for name, alert in sorted(by_name.items()):
        severity = alert.get("labels", {}).get("severity")
        if name not in rows:
            fail(f"alert {name} ({alert['file']}) has no row in the README's runbook table")
        elif rows[name][1] != severity:
            fail(f"the README says {name} is '{rows[name][1]}', its rule says '{severity}'")
    for name in sorted(set(rows) - set(by_name)):
        fail(f"the README's runbook table lists {name}, which no rule file defines")
    if set(rows) == set(by_name):
        ok(f"the README's runbook table has a row for each of the {len(by_name)} alerts, severities as in the rules")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True, help="folder with the contacts, calendar and notifications binaries")
    parser.add_argument("--promtool", default="promtool")
    args = parser.parse_args()

    alerts, records = load_rules()
    dashboard = dashboard_expressions()
    print("==> dashboard expressions (promtool check rules)")
    check_dashboard_syntax(dashboard, args.promtool)

    print("==> series the rules and the dashboard read, in the services' start-up scrape")
    sources = [(f"{a['file']}: alert {a['alert']}", a["expr"]) for a in alerts]
    sources += [(f"{r['file']}: record {name}", r["expr"]) for name, r in records.items()]
    sources += dashboard
    try:
        check_scrape(os.path.abspath(args.bin_dir), sources, records)
    except (RuntimeError, OSError) as e:
        fail(f"start-up scrape: {e}")

    print("==> runbook")
    check_runbook(alerts)

    print(f"\nmonitoring: {PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
