import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Address math, in one place: parsing an IP or CIDR and asking whether one range holds another.
 * Node's `isIP` decides what is an address (strict dotted decimal, no octal or hex forms that
 * `ipaddr.js` would also accept); `ipaddr.js` does the bit arithmetic.
 */
export interface Cidr {
  address: ipaddr.IPv4 | ipaddr.IPv6;
  /** Prefix length; a bare address is /32 or /128. */
  prefix: number;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address; undefined for anything else. */
export function parseCidr(text: string): Cidr | undefined {
  const [address = "", prefix, extra] = text.trim().split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return undefined;
  const bits = family === 4 ? 32 : 128;
  const length = prefix === undefined ? bits : Number(prefix);
  if (length > bits) return undefined;
  return { address: ipaddr.parse(address), prefix: length };
}

export function isIpOrCidr(text: string): boolean {
  return parseCidr(text) !== undefined;
}

/** True if every address of `inner` lies in `outer` (same family only). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.address.kind() !== inner.address.kind() || inner.prefix < outer.prefix) return false;
  return (inner.address as ipaddr.IPv4).match(outer.address as ipaddr.IPv4, outer.prefix);
}

/** True if `ip` is an address inside `cidr`; a non-address (e.g. a cluster finding id) never is. */
export function containsIp(cidr: Cidr, ip: string): boolean {
  const address = isIP(ip) === 0 ? undefined : parseCidr(ip);
  return address !== undefined && cidrContains(cidr, address);
}
