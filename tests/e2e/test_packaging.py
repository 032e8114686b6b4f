"""Packaging for operators (docs/operations.md, "Installing"): `cmake --install` (what `make
install` runs) gives a tree whose server runs from where it was installed, with its supervisor and
the demo model beside it; its systemd unit signals the server only; `cpack -G DEB` (`make deb`)
gives a package with its dependencies, the unit and a postinst that creates the user jobs run as."""
import os
import subprocess
from pathlib import Path

import pytest

import conftest
from conftest import BIN

BUILD = Path(BIN).parent

# What is packaged is the release build: the sanitized run would package its own binaries (a
# minute of cpack) and prove nothing more about them.
pytestmark = pytest.mark.skipif(os.environ.get("VRAMQ_SANITIZED") == "1",
                                reason="packages the release build")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("install") / "usr"
    r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(root)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return root


def test_the_installed_tree_serves_with_the_example_config(installed, make_server, monkeypatch):
    for f in ("bin/vramq", "bin/vramq-supervise", "bin/vramq-fake-model",
              "lib/systemd/system/vramq.service", "share/vramq/examples/vramq.toml",
              "share/vramq/examples/demo-tasks.toml", "share/doc/vramq/operations.md",
              "share/doc/vramq/contrib/prometheus/vramq-alerts.yml",
              "share/doc/vramq/contrib/grafana/vramq-dashboard.json",
              "share/vramq/python/vramq_worker.py"):
        assert (installed / f).is_file(), f
    monkeypatch.setattr(conftest, "BIN", str(installed / "bin" / "vramq"))
    # --run-as "": the example's vramq-job is made by the package, not here.
    s = make_server("--config", str(installed / "share/vramq/examples/vramq.toml"),
                    "--gpus", "sim:24GiB", "--run-as", "")
    job = s.submit(params={"seconds": 0, "output": "installed"}, wait=30).json()
    assert job["state"] == "succeeded" and "installed" in job["output"]
    assert job["command"][0] == str(installed / "bin" / "vramq-fake-model")


def test_the_unit_signals_the_server_only(installed):
    unit = (installed / "lib/systemd/system/vramq.service").read_text()
    lines = {l.split("=", 1)[0]: l.split("=", 1)[1] for l in unit.splitlines()
             if "=" in l and not l.startswith("#")}
    assert lines["KillMode"] == "process"
    assert lines["ExecStart"].startswith(str(installed / "bin" / "vramq") + " serve --config ")
    # Root, so that jobs run as their owners' users, never as the server.
    assert lines["StateDirectoryMode"] == "0711" and lines["User"] == "root"
    example = (installed / "share/vramq/examples/vramq.toml").read_text()
    assert 'run_as = "vramq-job"' in example


def test_a_debian_package(tmp_path):
    r = subprocess.run(["cpack", "-G", "DEB", "-B", str(tmp_path)], cwd=BUILD, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    deb = next(tmp_path.glob("vramq_*.deb"))
    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True).stdout
    assert "libsqlite3-0" in info and "adduser" in info and "postinst" in info, info
    files = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    for f in ("./usr/bin/vramq", "./usr/bin/vramq-supervise", "./usr/lib/systemd/system/vramq.service",
              "./usr/share/vramq/examples/vramq.toml"):
        assert f in files, f
    unit = subprocess.run(f"dpkg-deb --fsys-tarfile {deb} | tar -xO ./usr/lib/systemd/system/vramq.service",
                          shell=True, capture_output=True, text=True).stdout
    assert "ExecStart=/usr/bin/vramq serve --config /etc/vramq/vramq.toml" in unit
