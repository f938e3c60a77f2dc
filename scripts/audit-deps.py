"""Audit the installed dependencies for known vulnerabilities with pip-audit (CI step).

Fails (exit 1) when pip-audit reports a vulnerability in any installed package. Packages the
vulnerability service could not be asked about are counted and named: where the package
index serves no vulnerability data (some mirrors, an offline machine) the audit covers fewer
packages or none, and this script says so instead of printing a reassuring "no known
vulnerabilities". Set AUDIT_STRICT=1 to fail in that case too (production release builds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    done = subprocess.run([str(pip_audit), "--skip-editable", "--progress-spinner", "off",
                           "-f", "json"], capture_output=True, text=True, check=False,
                          timeout=600)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"pip-audit failed (exit {done.returncode}):\n{done.stderr[-2000:]}",
              file=sys.stderr)
        return 1
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d["name"] for d in dependencies if "skip_reason" in d]
    audited = len(dependencies) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    print(f"pip-audit: {audited} of {len(dependencies)} installed packages audited, "
          f"{len(vulnerable)} vulnerable")
    if skipped:
        print(f"pip-audit: not audited (the index served no vulnerability data for them): "
              f"{len(skipped)} packages, e.g. {', '.join(skipped[:8])}")
    if vulnerable:
        return 1
    if skipped and os.environ.get("AUDIT_STRICT") == "1":
        print("AUDIT_STRICT=1: every package must be audited", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
