#!/usr/bin/env bash
# Installs the system packages TapStack's tests and demo need, when missing:
# python3-venv (the virtualenv) and MariaDB (a real MySQL-compatible server the
# loader tests start on a private port). Debian/Ubuntu only; elsewhere it says
# what to install and stops.
set -euo pipefail

missing=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: please install: ${missing[*]} (TapStack's setup knows only apt-get)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
  echo "setup: installing system packages with sudo (it may ask for your password): ${missing[*]}"
else
  echo "setup: installing system packages: ${missing[*]}"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Check what the install was for, rather than trusting its exit status alone.
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || {
  echo "error: mariadb-server installed, but no mariadbd binary found" >&2
  exit 1
}
command -v mariadb >/dev/null 2>&1 || { echo "error: no mariadb client after the install" >&2; exit 1; }
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || {
  echo "error: python3-venv installed, but python3 still cannot create virtualenvs" >&2
  exit 1
}
echo "setup: system packages ready"
