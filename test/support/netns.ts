import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * True only when this process runs in a network namespace whose sole interface is `lo`
 * (what `npm test` sets up as root). Scanning tests require it: then no packet can leave.
 */
export function inPrivateNetns(): boolean {
  if (process.env.PORTWARDEN_TEST_NETNS !== "1") return false;
  const interfaces = readFileSync("/proc/self/net/dev", "utf8")
    .split("\n")
    .slice(2)
    .map((line) => line.split(":")[0]?.trim())
    .filter((name): name is string => Boolean(name));
  return interfaces.length === 1 && interfaces[0] === "lo";
}

/** Why scanning tests are skipped here, printed once by the suites that need the netns. */
export const NETNS_SKIP_REASON =
  "SKIPPED: scanning tests need root and run only inside the private netns made by `npm test` (test/run-tests.sh)";

let warned = false;
/** Returns whether scanning tests may run, printing the reason when they may not. */
export function requirePrivateNetns(): boolean {
  const ok = inPrivateNetns();
  if (!ok && !warned) {
    warned = true;
    console.warn(NETNS_SKIP_REASON);
  }
  return ok;
}

/** Runs iptables (v4) inside the current (private) namespace; throws with stderr on failure. */
export function iptables(...args: string[]): void {
  if (!inPrivateNetns()) throw new Error("refusing to touch iptables outside the private test netns");
  execFileSync("iptables", ["-w", ...args], { stdio: ["ignore", "ignore", "pipe"] });
}

let nextAddress = 10;
/**
 * A fresh loopback address (127.0.x.y) for one test, so iptables rules of concurrent tests
 * never overlap. Offset by pid so parallel vitest workers differ too.
 */
export function freshLoopbackAddress(): string {
  const n = (process.pid % 200) * 250 + nextAddress++;
  return `127.${10 + Math.floor(n / 250 / 250)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
}
