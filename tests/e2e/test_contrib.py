"""contrib/: the Prometheus alert rules and the Grafana dashboard stay true to GET /metrics. The
rules are checked and unit-tested by promtool; every query of the dashboard is valid PromQL
(promtool checks it as a recording rule); every metric they name is one a real server exposes."""
import json
import re
import subprocess

from conftest import REPO
from test_metrics import scrape

CONTRIB = REPO / "contrib"


def promtool(*args, cwd=None):
    r = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def dashboard_queries():
    dash = json.loads((CONTRIB / "grafana" / "vramq-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_alert_rules_check_and_pass_their_tests():
    promtool("check", "rules", "vramq-alerts.yml", cwd=CONTRIB / "prometheus")
    promtool("test", "rules", "vramq-alerts.test.yml", cwd=CONTRIB / "prometheus")


def test_dashboard_queries_are_valid_promql(tmp_path):
    queries = dashboard_queries()
    assert len(queries) >= 15
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": q.replace("$instance", ".*")}
        for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    promtool("check", "rules", str(path))


def test_every_metric_named_is_exposed(server):
    exposed = set(re.findall(r"^# TYPE (\S+)", scrape(server), re.M))
    text = "\n".join(dashboard_queries())
    text += (CONTRIB / "prometheus" / "vramq-alerts.yml").read_text()
    named = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\bvramq_[a-z_]+", text)}
    named -= {"vramq_alerts"}  # the file's own name
    assert named and named <= exposed, named - exposed
