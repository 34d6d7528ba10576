import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { requirePrivateNetns } from "../support/netns.ts";

const OWN_ADDRESS = "10.250.0.1";

/**
 * In a fresh namespace of its own (the ephemeral port range is per namespace, and a two-port range
 * would starve the other suites): lo up, an extra address of this machine on lo (as a node's own
 * IP), ephemeral ports 40000-40001 only. Nothing there can leave the machine.
 */
function scanInOwnNamespace(targets: string[]): { open: Record<string, number[]>; control: number } {
  const script = [
    "set -e",
    "ip link set lo up",
    `ip addr add ${OWN_ADDRESS}/32 dev lo`,
    "sysctl -qw net.ipv4.ip_local_port_range='40000 40001'",
    'exec npx tsx test/scan/support/self-connect-probe.ts "$@"',
  ].join("\n");
  const out = execFileSync(
    "unshare",
    ["--net", "bash", "-c", script, "self-connect", "40000-40001", "20", ...targets],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    },
  );
  return JSON.parse(out.trim().split("\n").pop() as string);
}

describe.runIf(requirePrivateNetns())("TCP self-connects on the scanner's own addresses", () => {
  it("reports none as open: own interface IP, 0.0.0.0, ::ffff:127.0.0.1, 127.0.0.1", () => {
    const { open, control } = scanInOwnNamespace([OWN_ADDRESS, "0.0.0.0", "::ffff:127.0.0.1", "127.0.0.1"]);

    // Control: with two ephemeral ports, plain connects to our own address do meet themselves.
    expect(control).toBeGreaterThan(0);
    // The own interface IP and 127.0.0.1 are connected to, and the self-connect guard filters them.
    // 0.0.0.0 and ::ffff:127.0.0.1 never get that far: the address policy refuses them before any
    // connect (an error on the result), so neither can report a self-connect as open either.
    expect(open).toEqual({
      [OWN_ADDRESS]: [],
      "0.0.0.0": [],
      "0.0.0.0 error": [],
      "::ffff:127.0.0.1": [],
      "::ffff:127.0.0.1 error": [],
      "127.0.0.1": [],
    });
  });
});
