#!/usr/bin/env bash
# `npm test`: sets up what the suite needs, then runs it inside a fresh network namespace that
# holds only `lo`.
# Nothing a test does (scans, iptables rules, moto's invented 54.x addresses) can reach past this
# machine: there is no route out of the namespace, and the rules die with it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${PORTWARDEN_TEST_NETNS:-}" = "1" ]; then
  exec npx vitest run "$@"
fi

# Everything the suite needs besides Node: installed here when root (Debian/Ubuntu), otherwise the
# one command that would install it is printed and the run stops before any test.
bash test/setup-test-machine.sh

if [ "$(id -u)" = "0" ] && unshare --net true 2>/dev/null; then
  echo "portwarden tests: running inside a private network namespace (only lo)" >&2
  exec unshare --net -- env PORTWARDEN_TEST_NETNS=1 bash -c 'ip link set lo up && exec npx vitest run "$@"' vitest "$@"
fi

echo "portwarden tests: not root (or no unshare): scanning tests will be SKIPPED; run as root to include them" >&2
exec npx vitest run "$@"
