"""Every Grafana panel's query names a metric the code exports; the compose set-up
provisions the dashboards and scrapes the flows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from monitoring.metrics import MMMetrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "docker" / "grafana" / "dashboards"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside strings, label
    matchers, ranges and grouping clauses that are not function calls or keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\w+", " ", e)  # dashboard variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if not call and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def exported(name: str, known: set[str]) -> bool:
    if name in known:
        return True
    return any(name.endswith(s) and name.removesuffix(s) in known for s in HISTOGRAM_SUFFIXES)


def test_metric_names_are_read_from_promql() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, action) (rate(mm_order_ack_seconds_bucket{venue=~"$venue",x="a{b}"}[$__rate_interval]))) / on (venue) mm_fees'
    assert metric_names(expr) == {"mm_order_ack_seconds_bucket", "mm_fees"}
    assert not exported("mm_fees_bucket", {"mm_fees_total"})


def test_every_panel_queries_metrics_the_code_exports() -> None:
    known = MMMetrics().names()  # the registry the flows build, not a list kept here
    files = sorted(DASHBOARDS.glob("*.json"))
    assert [f.stem for f in files] == ["execution", "profitability", "risk"]
    used: set[str] = set()
    for f in files:
        dash = json.loads(f.read_text())
        assert dash["panels"], f.name
        for panel in dash["panels"]:
            exprs = [t["expr"] for t in panel["targets"]]
            assert exprs, (f.name, panel["title"])
            for expr in exprs:
                names = metric_names(expr)
                assert names, (f.name, panel["title"], expr)
                unknown = sorted(n for n in names if not exported(n, known))
                assert unknown == [], (f.name, panel["title"], unknown)
                used |= names
        for var in dash["templating"]["list"]:
            [metric] = re.findall(r"label_values\((\w+)", var["query"]["query"])
            assert exported(metric, known), (f.name, var["name"])
    assert any(n.startswith("mm_recorder_") for n in used)


def test_compose_provisions_the_dashboards_and_scrapes_the_flows() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    [dash_mount] = [m for m in mounts if m.startswith("./docker/grafana/dashboards:")]
    target = dash_mount.split(":")[1]
    provider = yaml.safe_load(
        (REPO / "docker/grafana/provisioning/dashboards/mmflow.yml").read_text()
    )
    assert [p["options"]["path"] for p in provider["providers"]] == [target]
    ds = yaml.safe_load(
        (REPO / "docker/grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uids = {d["uid"] for d in ds["datasources"]}
    for f in DASHBOARDS.glob("*.json"):
        for panel in json.loads(f.read_text())["panels"]:
            assert panel["datasource"]["uid"] in uids, (f.name, panel["title"])
    prom = yaml.safe_load((REPO / "docker" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    for job in ("mm_trading", "mm_recorder"):
        targets = jobs[job]["static_configs"][0]["targets"]
        assert targets and all(t.startswith("host.docker.internal:") for t in targets)
    assert "host.docker.internal:host-gateway" in compose["services"]["prometheus"]["extra_hosts"]


PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself for every target


def test_alert_rules_read_exported_metrics_and_are_loaded_by_compose() -> None:
    known = MMMetrics().names()
    rules_file = REPO / "docker" / "prometheus-alerts.yml"
    groups = yaml.safe_load(rules_file.read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert len({r["alert"] for r in rules}) == len(rules) >= 8
    for r in rules:
        names = metric_names(r["expr"])
        assert names, r["alert"]
        unknown = sorted(n for n in names if n not in PROMETHEUS_OWN and not exported(n, known))
        assert unknown == [], (r["alert"], unknown)
        assert r["labels"]["severity"] in ("warning", "critical") and r["annotations"]["summary"]
    alerts = {r["alert"] for r in rules}
    assert {"MMRecorderDown", "MMTraderDown", "MMCircuitBreaker"} <= alerts
    prom = yaml.safe_load((REPO / "docker" / "prometheus.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    [mount] = [m for m in mounts if m.startswith("./docker/prometheus-alerts.yml:")]
    assert prom["rule_files"] == [mount.split(":")[1]]
