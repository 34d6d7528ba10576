import { networkInterfaces } from "node:os";
import ipaddr from "ipaddr.js";

/** `::ffff:127.0.0.1` → `127.0.0.1`; every address in one canonical text form, or undefined. */
function canonical(ip: string): string | undefined {
  try {
    return ipaddr.process(ip.replace(/%.*$/, "")).toNormalizedString();
  } catch {
    return undefined;
  }
}

/**
 * The addresses this machine answers on itself, read once per scan: every interface address
 * (scanning the scanner's own IP), loopback and the unspecified address (0.0.0.0 and :: connect
 * to this host), each also in its IPv4-mapped IPv6 form. A TCP connect to one of them can meet
 * its own ephemeral port (a "self-connect") and look open with nothing listening.
 */
export function ownAddressTest(interfaces = networkInterfaces()): (ip: string) => boolean {
  const own = new Set<string>();
  for (const list of Object.values(interfaces)) {
    for (const entry of list ?? []) {
      const ip = canonical(entry.address);
      if (ip) own.add(ip);
    }
  }
  return (ip: string): boolean => {
    const address = canonical(ip);
    if (address === undefined) return false;
    const range = ipaddr.parse(address).range();
    return range === "loopback" || range === "unspecified" || own.has(address);
  };
}
