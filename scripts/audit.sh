#!/usr/bin/env bash
# Security checks CI runs before the tests (also by hand: scripts/audit.sh [VENV]).
# 1. bandit over the package: must be clean (each accepted finding carries `# nosec <reason>`).
# 2. pip-audit over the installed environment: reports known-vulnerable packages. It needs the
#    vulnerability service; without a network it says "not audited: no network" and goes on,
#    never pretending. ANIMEREC_AUDIT_STRICT=1 makes a vulnerability found fail the run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${1:+$1/bin/}python"
[ -n "${1:-}" ] || PY=python

echo "== bandit -r animerec"
# (bandit warns about every line of a multi-line string whose nosec sits on its last line: noise)
"$PY" -m bandit -q -r animerec 2>&1 | grep -v "nosec encountered"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "bandit: findings above (fix, or answer: # nosec BXXX  # why)"; exit 1; }
echo "bandit: clean"

echo "== pip-audit (installed environment)"
json="$(mktemp)"
"$PY" -m pip_audit --skip-editable --progress-spinner off --format json -o "$json" >"$json.log" 2>&1
rc=$?
# pip-audit says "No known vulnerabilities found" even when it could look up no package at all
# (offline, every package is "not found"): count what was really audited.
"$PY" - "$json" "$rc" "$json.log" <<'PY'
import json, os, sys
path, rc, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
strict = os.environ.get("ANIMEREC_AUDIT_STRICT") == "1"
try:
    deps = json.load(open(path))["dependencies"]
except (OSError, ValueError, KeyError):
    tail = open(log).read().strip().splitlines()[-2:]
    print("pip-audit: not audited: no network or pip-audit failed (exit %d): %s" % (rc, " / ".join(tail)))
    sys.exit(0)
audited = [d for d in deps if "skip_reason" not in d]
vulnerable = [d for d in audited if d.get("vulns")]
if not audited:
    print(f"pip-audit: not audited: no network (none of {len(deps)} packages could be looked up)")
    sys.exit(0)
for d in vulnerable:
    ids = ", ".join(v["id"] for v in d["vulns"])
    print(f"  {d['name']} {d['version']}: {ids}")
skipped = len(deps) - len(audited)
print(f"pip-audit: {len(audited)} packages audited ({skipped} could not be looked up), "
      f"{len(vulnerable)} with known vulnerabilities")
sys.exit(1 if vulnerable and strict else 0)
PY
status=$?
rm -f "$json" "$json.log"
exit $status
