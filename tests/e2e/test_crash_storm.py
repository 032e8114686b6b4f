"""kill -9 of the server at random moments, 20 times, while 4 clients submit with retries under
Idempotency-Key: nothing acknowledged is lost, no key makes two jobs, no job runs twice, every job
ends, no process is left (bench/crash_storm.sh runs the same for more cycles)."""
import sys

from conftest import BIN, REPO

sys.path.insert(0, str(REPO / "bench"))
import crash_storm  # noqa: E402


def test_crash_storm_of_20_kill9_cycles(tmp_path):
    r = crash_storm.storm(BIN, 20, tmp_path, seed=1)
    assert r["acknowledged"] > 20, r
    assert r["lost"] == [], r
    assert r["keys_with_two_jobs"] == [] and r["errors"] == [], r
    assert r["ran_twice"] == [], r
    assert r["not_terminal"] == [], r
    assert r["processes_left"] == [], r
    # Runs outlive the kills: every job ran once and succeeded.
    assert r["states"] == {"succeeded": r["jobs"]}, r
