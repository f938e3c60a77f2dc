#!/usr/bin/env bash
# Install the system packages predelinq's tests need when they are missing:
# PostgreSQL server binaries (Debian's `postgresql`) and promtool (Debian's `prometheus`, for
# the alert-rule checks in tests/deploy) and nginx (Debian's `nginx-light`: the HTTPS + basic auth
# gateway in front of the test schema registry, tests/support/tls_gateway.py) and Chromium (Debian's
# `chromium`: the console's browser tests in tests/console drive /usr/bin/chromium through
# Playwright, never a browser downloaded by `playwright install`). Java 17+ and Maven must already be present (they are
# on the build machines); they fetch Apache Kafka's jars on first use.
set -euo pipefail

have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
have_promtool() { command -v promtool >/dev/null 2>&1; }
have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
have_chromium() { [ -x /usr/bin/chromium ]; }

missing=()
have_pg || missing+=(postgresql)
have_promtool || missing+=(prometheus)
have_nginx || missing+=(nginx-light)
have_chromium || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages; run as root or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]} (apt-get install -y --no-install-recommends) ..."
  export DEBIAN_FRONTEND=noninteractive
  # Only the binaries are wanted: keep the packages' services (a prometheus daemon, a
  # postgresql cluster, nginx) from being started by their install scripts, then restore the policy.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is required (Apache Kafka for the tests)" >&2; exit 1; }
done
