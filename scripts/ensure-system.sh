#!/usr/bin/env bash
# Install the system packages predelinq's tests need when they are missing:
# PostgreSQL server binaries (Debian's `postgresql`). Java 17+ and Maven must already be
# present (they are on the build machines); they fetch Apache Kafka's jars on first use.
set -euo pipefail

have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }

if ! have_pg; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server binaries are missing; run as root or: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "installing PostgreSQL (apt-get install -y postgresql) ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is required (Apache Kafka for the tests)" >&2; exit 1; }
done
