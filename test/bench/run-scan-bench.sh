#!/usr/bin/env bash
# npm run bench:scan — builds the CLI bundle (as Lambda runs it: one esbuild file, plain node) and
# compares it with nmap -sT -T4 on identical testbeds, each in a fresh network namespace with only lo.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != "0" ]; then echo "bench:scan needs root (it creates network namespaces and iptables rules)" >&2; exit 2; fi
missing=()
command -v nmap >/dev/null || missing+=(nmap)
command -v iptables >/dev/null || missing+=(iptables)
[ -x /usr/bin/time ] || missing+=(time)
if [ "${#missing[@]}" -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; fi
mkdir -p .bench
npx esbuild lib/cli/main.ts --bundle --platform=node --format=esm --target=node20 --minify --keep-names --splitting --outdir=.bench/cli \
  --banner:js="import { createRequire } from 'module'; const require = createRequire(import.meta.url);" --log-level=warning
exec npx tsx test/bench/scan-bench.ts "$@"
