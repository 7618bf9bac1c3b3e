"""Out of file descriptors: a closed-model worker keeps going, counts generator errors, and is
never lost. (Before: EMFILE on connect returned at once, the VUs looped without yielding, the
worker went silent and was lost: exit 112, 0 requests.)"""

from __future__ import annotations

import resource
import subprocess
import sys

from tests.support import read_json, write_config

NOFILE = 256


def _low_nofile() -> None:
    """In the child: soft and hard limit lowered, so the coordinator cannot raise it back."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def test_a_closed_worker_out_of_file_descriptors_counts_generator_errors_and_lives(tmp_path, fresh_target):
    config = write_config(tmp_path, f"""
        name: out of fds
        settings: {{baseUrl: "{fresh_target.url}", maxConnectionsPerHost: 0}}
        scenarios:
          s:
            executor: constant-vus
            vus: 300
            duration: 4s
            gracefulStop: 2s
            requests: [{{url: "/delay/5"}}]
        """)
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "lunge_mp.cli", "run", str(config), "--out", str(out),
                           "--workers", "1", "-q", "--no-history"],
                          capture_output=True, text=True, timeout=120, preexec_fn=_low_nofile)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    results = read_json(out)
    assert [w["lostAt"] for w in results["workers"]] == [None]
    generator = results["metrics"]["generator_errors"]
    assert generator["count"] > 0 and "Too many open files" in generator["firstError"]
    served = fresh_target.stats()["requests"]
    assert served > 1000                                  # the VUs that had a socket kept working
    # generator errors never reached the server; everything else did, and was counted
    assert results["metrics"]["http_reqs"]["count"] == served + generator["count"]
    assert any("failed in the load generator itself" in w for w in results["warnings"])
