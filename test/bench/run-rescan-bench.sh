#!/usr/bin/env bash
# npm run bench:rescan — event arrival → alert for event-driven rescans, measured on this machine in a
# fresh network namespace with only lo (test/bench/rescan-bench.ts), with the deployed waits
# (batching window, launch delay, visibility timeout) added from their configured values.
# Root only (netns, iptables); needs moto_server like the tests (test/setup-test-machine.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != "0" ]; then echo "bench:rescan needs root (it creates a network namespace and iptables rules)" >&2; exit 2; fi
export POWERTOOLS_LOG_LEVEL=ERROR
# Powertools' empty-metrics notice and the SDK's Node-version notice are not results.
unshare --net -- env PORTWARDEN_TEST_NETNS=1 bash -c 'ip link set lo up && exec npx tsx test/bench/rescan-bench.ts "$@"' bench "$@" 2>&1 \
  | grep -v -e "No application metrics to publish" -e "NodeVersionSupportWarning" -e "versions published after" \
    -e "upgrade to node" -e "require node >=22" -e "To continue receiving" -e "a.co/c895JFp" -e "trace-warnings" -e "updates please" -e '^$'
