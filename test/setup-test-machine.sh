#!/usr/bin/env bash
# What the test suite needs besides Node; test/run-tests.sh calls this before every run (a few
# `command -v` checks when everything is there). As root on Debian/Ubuntu it installs what is
# missing; otherwise it stops at once and prints the one command that would.
# PORTWARDEN_TEST_NO_INSTALL=1: check and print only, never install.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.1
MOTO_VENV=.venv-moto # test/support/moto.ts looks here when moto_server is not on PATH

# command:Debian package
REQUIRED="iptables:iptables etcd:etcd-server openssl:openssl ip:iproute2 unshare:util-linux nmap:nmap dockerd:docker.io"

packages=()
for pair in $REQUIRED; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || packages+=("${pair#*:}")
done
need_moto=false
command -v moto_server >/dev/null 2>&1 || [ -x "$MOTO_VENV/bin/moto_server" ] || need_moto=true
$need_moto && ! command -v python3 >/dev/null 2>&1 && packages+=(python3)
$need_moto && packages+=(python3-venv)

[ "${#packages[@]}" -eq 0 ] && ! $need_moto && exit 0

steps=()
[ "${#packages[@]}" -gt 0 ] && steps+=("apt-get update && apt-get install -y --no-install-recommends ${packages[*]}")
$need_moto && steps+=("python3 -m venv $MOTO_VENV && $MOTO_VENV/bin/pip install 'moto[server]==$MOTO_VERSION'")
command_line=$(printf '%s && ' "${steps[@]}")
command_line=${command_line% && }

if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1 || [ "${PORTWARDEN_TEST_NO_INSTALL:-}" = "1" ]; then
  echo "portwarden tests: missing: ${packages[*]:-}$($need_moto && echo " moto_server")" >&2
  echo "portwarden tests: this installs them (Debian/Ubuntu, as root, from the repository root):" >&2
  echo "  sudo sh -c \"$command_line\"" >&2
  exit 1
fi

echo "portwarden tests: installing what is missing: $command_line" >&2
export DEBIAN_FRONTEND=noninteractive
sh -c "$command_line" >/dev/null
