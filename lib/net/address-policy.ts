import ipaddr from "ipaddr.js";
import { InputError, PortwardenError } from "../errors/errors.ts";

/**
 * Which addresses portwarden may connect to: the one primitive every path that opens a socket
 * (scanner, probes) and every path that accepts a target (inventory, --targets, DNS answers,
 * discovery, the Scan Lambda's items) asks.
 *
 * - `forbidden`: never connected to, whatever the source and whatever the flags: link-local
 *   (169.254.0.0/16 incl. the instance metadata service 169.254.169.254, fe80::/10), the AWS
 *   IPv6 service range fd00:ec2::/32 (metadata fd00:ec2::254, DNS ::253, NTP ::123), unspecified
 *   (0.0.0.0/8, ::), multicast (224.0.0.0/4, ff00::/8), broadcast and the reserved 240.0.0.0/4;
 *   and any non-public IPv4 address hidden inside IPv6 (IPv4-mapped ::ffff:a.b.c.d incl.
 *   ::ffff:127.0.0.1, IPv4-translated, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96 and
 *   64:ff9b:1::/48, 6to4 2002::/16).
 * - `internal`: loopback (127.0.0.0/8, ::1), RFC 1918, carrier-grade NAT 100.64.0.0/10 and unique
 *   local fc00::/7: scanned only when a person asked (named on the command line, or
 *   `--allow-private`); discovery never emits them.
 * - `public`: everything else (the documentation and benchmarking ranges too: not routed, harmless).
 */
export type AddressClass = "public" | "internal" | "forbidden";

export interface AddressVerdict {
  class: AddressClass;
  /** What kind of address it is, e.g. `link-local (instance metadata service)`; empty for public ones. */
  why: string;
}

/** Whether internal (loopback/private) addresses may be connected to. Forbidden ones never may. */
export interface AddressPolicy {
  allowInternal: boolean;
}

/** The default everywhere no person asked for more: public addresses only. */
export const PUBLIC_ONLY: AddressPolicy = Object.freeze({ allowInternal: false });
/** A person named the address (CLI arguments) or passed `--allow-private`. */
export const ALLOW_INTERNAL: AddressPolicy = Object.freeze({ allowInternal: true });

const AWS_SERVICE_RANGE = ipaddr.parseCIDR("fd00:ec2::/32");
const NAT64_LOCAL = ipaddr.parseCIDR("64:ff9b:1::/48");

const FORBIDDEN_V4: Record<string, string> = {
  unspecified: "unspecified (0.0.0.0/8)",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
};
const RESERVED_V4 = ipaddr.parseCIDR("240.0.0.0/4");
const INTERNAL_V4: Record<string, string> = {
  loopback: "loopback",
  private: "private (RFC 1918)",
  carrierGradeNat: "carrier-grade NAT (100.64.0.0/10)",
};
const FORBIDDEN_V6: Record<string, string> = {
  unspecified: "unspecified (::)",
  linkLocal: "link-local",
  multicast: "multicast",
};
const INTERNAL_V6: Record<string, string> = {
  loopback: "loopback",
  uniqueLocal: "unique local (fc00::/7)",
};

function classifyV4(address: ipaddr.IPv4): AddressVerdict {
  const text = address.toString();
  // 255.255.255.255 is also inside 240.0.0.0/4: name the more precise reason.
  if (text === "255.255.255.255") return { class: "forbidden", why: "broadcast" };
  if (text === "169.254.169.254")
    return { class: "forbidden", why: "link-local (instance metadata service)" };
  if (address.match(RESERVED_V4)) return { class: "forbidden", why: "reserved (240.0.0.0/4)" };
  const range = address.range();
  const forbidden = FORBIDDEN_V4[range];
  if (forbidden) return { class: "forbidden", why: forbidden };
  const internal = INTERNAL_V4[range];
  if (internal) return { class: "internal", why: internal };
  return { class: "public", why: "" };
}

/** The IPv4 address an IPv6 address carries, for the forms a kernel or gateway would route to it. */
function embeddedV4(address: ipaddr.IPv6): { v4: ipaddr.IPv4; form: string } | undefined {
  const range = address.range();
  const bytes = address.toByteArray();
  const last4 = () => new ipaddr.IPv4(bytes.slice(12, 16));
  if (range === "ipv4Mapped") return { v4: address.toIPv4Address(), form: "IPv4-mapped" };
  if (range === "rfc6145") return { v4: last4(), form: "IPv4-translated" };
  if (range === "rfc6052" || address.match(NAT64_LOCAL)) return { v4: last4(), form: "NAT64" };
  if (range === "6to4") return { v4: new ipaddr.IPv4(bytes.slice(2, 6)), form: "6to4" };
  // ::a.b.c.d (deprecated IPv4-compatible); ::1 and :: are themselves, not 0.0.0.x.
  if (bytes.slice(0, 12).every((b) => b === 0) && range !== "loopback" && range !== "unspecified")
    return { v4: last4(), form: "IPv4-compatible" };
  return undefined;
}

function classifyV6(address: ipaddr.IPv6): AddressVerdict {
  if (address.match(AWS_SERVICE_RANGE)) {
    const metadata = address.toNormalizedString() === "fd00:ec2:0:0:0:0:0:254";
    return {
      class: "forbidden",
      why: metadata ? "AWS instance metadata service (IPv6)" : "AWS service range fd00:ec2::/32",
    };
  }
  const embedded = embeddedV4(address);
  if (embedded) {
    const inner = classifyV4(embedded.v4);
    if (inner.class === "public") return inner;
    // A person who means loopback writes 127.0.0.1; ::ffff:127.0.0.1 in an input is an evasion.
    return { class: "forbidden", why: `${embedded.form} ${embedded.v4.toString()}, ${inner.why}` };
  }
  const range = address.range();
  const forbidden = FORBIDDEN_V6[range];
  if (forbidden) return { class: "forbidden", why: forbidden };
  const internal = INTERNAL_V6[range];
  if (internal) return { class: "internal", why: internal };
  return { class: "public", why: "" };
}

/** Strips brackets and a zone (`fe80::1%eth0` is still link-local). */
function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = ip.trim().replace(/^\[(.*)\]$/, "$1");
  const zoneless = bare.includes(":") ? bare.replace(/%.*$/, "") : bare;
  // Only the canonical dotted quad: ipaddr's classful forms ("127.1", "0x7f.1") are not addresses here.
  if (!zoneless.includes(":") && !/^\d{1,3}(\.\d{1,3}){3}$/.test(zoneless)) return undefined;
  try {
    return ipaddr.parse(zoneless);
  } catch {
    return undefined;
  }
}

/** What an IP literal is; `undefined` when it is not one. */
export function classifyAddress(ip: string): AddressVerdict | undefined {
  const address = parseAddress(ip);
  if (!address) return undefined;
  return address.kind() === "ipv4" ? classifyV4(address as ipaddr.IPv4) : classifyV6(address as ipaddr.IPv6);
}

/**
 * Why `ip` must not be connected to under `policy`, as one line
 * (`169.254.169.254 is link-local (instance metadata service): never scanned`), or undefined when it may.
 * A string that is not an IP literal is refused too: only resolved addresses reach a socket.
 */
export function addressRefusal(ip: string, policy: AddressPolicy): string | undefined {
  const verdict = classifyAddress(ip);
  const shown = JSON.stringify(ip.length > 64 ? `${ip.slice(0, 61)}...` : ip);
  if (!verdict) return `${shown} is not an IP address: not scanned`;
  if (verdict.class === "forbidden") return `${ip} is ${verdict.why}: never scanned`;
  if (verdict.class === "internal" && !policy.allowInternal)
    return `${ip} is ${verdict.why}: scanned only when named on the command line or with --allow-private`;
  return undefined;
}

/** A connection the address policy refused; its message is the one-line reason. */
export class AddressRefusedError extends PortwardenError {
  constructor(
    readonly ip: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** Throws AddressRefusedError unless `ip` may be connected to: the last check before a socket opens. */
export function assertConnectable(ip: string, policy: AddressPolicy): void {
  const refusal = addressRefusal(ip, policy);
  if (refusal) throw new AddressRefusedError(ip, refusal);
}

/** A target as the CLI grammar parses it (lib/round/targets.ts `TargetItem`). */
export type NamedTarget = { kind: "ip"; ip: string; given: string } | { kind: "name"; name: string };

/**
 * A literal address a person named that is never scanned (169.254.169.254, ::, 224.0.0.1...) is an
 * input error with the policy's reason. Addresses inside a CIDR are refused one by one at the round
 * entry instead (a /24 around the metadata service is not a typo to stop the run for).
 */
export function refuseNamedForbidden(items: readonly NamedTarget[], field: string): void {
  for (const item of items) {
    if (item.kind !== "ip" || item.given.includes("/")) continue;
    if (classifyAddress(item.ip)?.class !== "forbidden") continue;
    throw new InputError(
      field,
      addressRefusal(item.given.replace(/^\[(.*)\]$/, "$1"), ALLOW_INTERNAL) ?? item.ip,
    );
  }
}
