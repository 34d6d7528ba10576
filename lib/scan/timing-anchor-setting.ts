import { isIP } from "node:net";
import { REGION_PATTERN } from "../contracts/aws-identifiers.ts";
import { InputError } from "../errors/errors.ts";
import { ALLOW_INTERNAL, addressRefusal, PUBLIC_ONLY } from "../net/address-policy.ts";
import type { AnchorEndpoint } from "./timing-anchor.ts";

/**
 * `region-endpoint`: each public target with a known region is anchored on that region's EC2 API
 * endpoint (`ec2.<region>.amazonaws.com:443`); `off`: no anchor; an endpoint: every target uses it.
 */
export type TimingAnchorSetting = "region-endpoint" | "off" | AnchorEndpoint;

export const DEFAULT_TIMING_ANCHOR = "region-endpoint" satisfies TimingAnchorSetting;

/** `off`, `region-endpoint` or `HOST:PORT` (`[v6]:PORT`) as flags and environment variables spell it. */
export function parseTimingAnchor(text: string, field: string): TimingAnchorSetting {
  const value = text.trim();
  if (value === "off" || value === "region-endpoint") return value;
  const match = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new InputError(
      field,
      `'${value.slice(0, 80)}' is not off, region-endpoint or HOST:PORT (port 1-65535)`,
    );
  if (match?.[1] !== undefined && isIP(host) !== 6)
    throw new InputError(field, `'${host}' is not an IPv6 address`);
  const refusal = isIP(host) ? addressRefusal(host, ALLOW_INTERNAL) : undefined;
  if (refusal) throw new InputError(field, refusal);
  return { host, port };
}

/**
 * DNS suffix of each partition by region prefix, as the AWS SDK's partition table has it
 * (`@aws-sdk/core` util-endpoints `partitions`); the first match wins, `amazonaws.com` otherwise.
 */
const PARTITION_DNS_SUFFIXES: readonly (readonly [prefix: string, suffix: string])[] = [
  ["cn-", "amazonaws.com.cn"],
  ["eusc-", "amazonaws.eu"],
  ["us-isob-", "sc2s.sgov.gov"],
  ["us-isof-", "csp.hci.ic.gov"],
  ["us-iso-", "c2s.ic.gov"],
  ["eu-isoe-", "cloud.adc-e.uk"],
];

/** The EC2 API endpoint of `region`, in its partition's DNS domain; undefined for a malformed region. */
export function regionEndpoint(region: string): AnchorEndpoint | undefined {
  if (!REGION_PATTERN.test(region)) return undefined;
  const domain = PARTITION_DNS_SUFFIXES.find(([prefix]) => region.startsWith(prefix))?.[1] ?? "amazonaws.com";
  return { host: `ec2.${region}.${domain}`, port: 443 };
}

/**
 * The anchor of one target, or undefined. A region endpoint anchors only public addresses: the
 * endpoint is reached over the same public path as a node's public IP, not a private one's (so a
 * loopback/private target, in tests and private inventories, never makes the scanner touch AWS).
 */
export function anchorFor(
  setting: TimingAnchorSetting,
  target: { ip: string; region?: string | undefined },
): AnchorEndpoint | undefined {
  if (setting === "off") return undefined;
  if (setting !== "region-endpoint") return setting;
  if (target.region === undefined || addressRefusal(target.ip, PUBLIC_ONLY) !== undefined) return undefined;
  return regionEndpoint(target.region);
}

/** The anchors of a round's targets, keyed by the target as passed to the scanner. */
export function anchorsForTargets(
  setting: TimingAnchorSetting,
  targets: readonly { ip: string; region?: string | undefined }[],
): Map<string, AnchorEndpoint> {
  const out = new Map<string, AnchorEndpoint>();
  for (const target of targets) {
    const anchor = anchorFor(setting, target);
    if (anchor && !out.has(target.ip)) out.set(target.ip, anchor);
  }
  return out;
}
