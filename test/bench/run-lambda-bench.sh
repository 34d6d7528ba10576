#!/usr/bin/env bash
# npm run bench:lambda — how long one Scan Lambda batch takes with the CPU a 256 MB Lambda gets
# (256/1769 of a vCPU: Lambda gives one full vCPU at 1,769 MB) and a 256 MB memory limit, using
# cgroup (v1) limits around the bundled CLI. Testbed: a fresh netns with only lo, four targets like
# a real batch: two silent nodes (SG drops everything), one with 3 open ports behind an SG, one
# with no firewall. Root only. Prints GNU time's wall/CPU/RSS per scenario.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = "0" ] || { echo "bench:lambda needs root (netns, iptables, cgroups)" >&2; exit 2; }
[ -d /sys/fs/cgroup/cpu ] && [ -d /sys/fs/cgroup/memory ] || { echo "bench:lambda needs cgroup v1 cpu+memory controllers" >&2; exit 2; }
MEMORY_MB="${MEMORY_MB:-256}"
QUOTA_US=$(( 100000 * MEMORY_MB / 1769 ))
mkdir -p .bench
npx esbuild lib/cli/main.ts --bundle --platform=node --format=esm --target=node20 --minify --keep-names --splitting --outdir=.bench/cli \
  --banner:js="import { createRequire } from 'module'; const require = createRequire(import.meta.url);" --log-level=warning

grp="portwarden-bench-$$"
cleanup() { rmdir "/sys/fs/cgroup/cpu/$grp" "/sys/fs/cgroup/memory/$grp" 2>/dev/null || true; }
trap cleanup EXIT
mkdir "/sys/fs/cgroup/cpu/$grp" "/sys/fs/cgroup/memory/$grp"
echo 100000 > "/sys/fs/cgroup/cpu/$grp/cpu.cfs_period_us"
echo "$QUOTA_US" > "/sys/fs/cgroup/cpu/$grp/cpu.cfs_quota_us"
echo $(( MEMORY_MB * 1024 * 1024 )) > "/sys/fs/cgroup/memory/$grp/memory.limit_in_bytes"
echo "limits: ${MEMORY_MB} MB, CPU quota ${QUOTA_US}/100000 us ($(( QUOTA_US / 1000 ))% of one core)"

run_case() { # name ports targets...
  local name="$1" ports="$2"; shift 2
  unshare --net -- bash -c '
    set -e
    ip link set lo up
    iptables -w -A INPUT -d 127.0.2.1 -p tcp --syn -m multiport ! --dports 22,443,10250 -j DROP
    iptables -w -A INPUT -d 127.0.2.2 -p tcp --syn -j DROP
    iptables -w -A INPUT -d 127.0.2.3 -p tcp --syn -j DROP
    ready=$(mktemp)
    trap "kill %1 %2 2>/dev/null" EXIT
    node test/bench/listeners.mjs 127.0.2.1 22 443 10250 >> "$ready" &
    node test/bench/listeners.mjs 127.0.2.4 10250 31337 >> "$ready" &
    until [ "$(grep -c ready "$ready")" = 2 ]; do sleep 0.05; done
    ulimit -n 1024
    echo $BASHPID > "/sys/fs/cgroup/cpu/'"$grp"'/tasks"
    echo $BASHPID > "/sys/fs/cgroup/memory/'"$grp"'/tasks"
    tf=$(mktemp)
    /usr/bin/time -f "%e %U %S %M" -o "$tf" node .bench/cli/main.js scan "$@" --ports "$0" --json > "$tf.out" 2>"$tf.err" || true
    [ -s "$tf.err" ] && sed "s/^/    stderr: /" "$tf.err" >&2; rm -f "$tf.err"
    # GNU time prepends "Command exited with non-zero status N" when the scan is incomplete (exit 1).
    read -r wall user sys rss < <(tail -n 1 "$tf")
    summary=$(node -e "const d=JSON.parse(require(\"fs\").readFileSync(process.argv[1],\"utf8\")); console.log(d.scans.map(s=>s.ip+\" open=\"+s.open.join(\",\")+(s.complete?\"\":\" INCOMPLETE\")+\" \"+s.durationMs+\"ms\").join(\"; \"))" "$tf.out")
    printf "%s\twall %ss\tcpu %ss\trss %sMB\t%s\n" "'"$name"'" "$wall" "$(awk -v u="$user" -v s="$sys" "BEGIN{print u+s}")" "$((rss / 1024))" "$summary"
    rm -f "$tf" "$tf.out" "$ready"
  ' "$ports" "$@"
}

run_case "batch of 4, kubernetes profile" kubernetes 127.0.2.1 127.0.2.2 127.0.2.3 127.0.2.4
run_case "1 node, SG, all ports" all 127.0.2.1
run_case "1 node, no firewall, all ports" all 127.0.2.4
