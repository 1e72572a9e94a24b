import subprocess
import sys


def test_harness_side_never_imports_locust_or_gevent():
    code = ("import sys, harness.load, harness.load.records, harness.load.profile, harness.slo.math, "
            "harness.slo.spec, harness.slo.compare, harness.slo.budget; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
