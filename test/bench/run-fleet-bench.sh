#!/usr/bin/env bash
# npm run bench:fleet — the real Scan handler under Lambda cgroup limits for several batch sizes,
# memory sizes and node mixes, then the monthly cost table (test/bench/fleet-bench.ts). Root only,
# cgroup v1 cpu+memory. About 5-10 minutes (--quick: 2-4).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = "0" ] || { echo "bench:fleet needs root (netns, iptables, cgroups)" >&2; exit 2; }
[ -d /sys/fs/cgroup/cpu ] && [ -d /sys/fs/cgroup/memory ] || { echo "bench:fleet needs cgroup v1 cpu+memory controllers" >&2; exit 2; }
mkdir -p .bench/fleet
# Bundled like the Lambda (infra/scanner-function.ts BUNDLING: ESM, minified, names kept).
npx esbuild test/bench/fleet-batch.ts --bundle --platform=node --format=esm --target=node20 --minify --keep-names \
  --outfile=.bench/fleet/fleet-batch.js --log-level=warning \
  --banner:js="import { createRequire } from 'module'; const require = createRequire(import.meta.url);"
npx tsx test/bench/discovery-cpu.ts
exec npx tsx test/bench/fleet-bench.ts "$@"
