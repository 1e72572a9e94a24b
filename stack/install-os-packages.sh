#!/usr/bin/env bash
# Install the OS packages the reference stack and the tests use, only those missing (idempotent).
# Usage: stack/install-os-packages.sh [extra-package ...]
set -euo pipefail
# package:binary-that-proves-it-is-installed
wanted=(
  postgresql:/usr/lib/postgresql/15/bin/postgres
  redis-server:/usr/bin/redis-server
  prometheus:/usr/bin/prometheus
  prometheus-alertmanager:/usr/bin/prometheus-alertmanager
  prometheus-postgres-exporter:/usr/bin/prometheus-postgres-exporter
  prometheus-redis-exporter:/usr/bin/prometheus-redis-exporter
  prometheus-node-exporter:/usr/bin/prometheus-node-exporter
  wrk:/usr/bin/wrk
)
for extra in "$@"; do wanted+=("$extra"); done
missing=()
for item in "${wanted[@]}"; do
  pkg=${item%%:*}; bin=${item#*:}
  if [ "$bin" = "$item" ]; then dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); continue; fi
  [ -x "$bin" ] || missing+=("$pkg")
done
# Debian's own python3 needs python3-venv before `python3 -m venv` works (a pyenv or python.org build has it).
${PYTHON:-python3} -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing OS packages: ${missing[*]}"
# Debian's postinst scripts would start these as system services; the harness runs its own copies.
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
# A failed index refresh is not fatal when the packages are in the cached index; the install says if not.
$SUDO apt-get update -q || echo "warning: apt-get update failed; trying the install with the cached index" >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
