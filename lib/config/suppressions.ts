import type { ClassifiedFinding } from "../findings/classify.ts";
import type { FindingKind } from "../findings/types.ts";
import { type Cidr, containsIp, parseCidr } from "../net/cidr.ts";
import type { PortSet } from "../ports/port-set.ts";

/**
 * An allow-list entry: findings matching every given selector are not reported until `expires`.
 * An entry needs at least one selector (the config loader enforces it).
 */
export interface Suppression {
  account?: string;
  cluster?: string;
  /** An IP or a CIDR (IPv4 or IPv6). */
  cidr?: string;
  /** Ports and ranges; a latent range finding matches only if its whole range is inside. */
  ports?: PortSet;
  kinds?: FindingKind[];
  /** Why this is accepted; shown when the suppression expires. */
  reason: string;
  /** After this instant the suppression no longer applies: the finding alerts again. */
  expires?: Date;
}

const parsedCidrs = new WeakMap<Suppression, Cidr | undefined>();

function ipWithin(ip: string, suppression: Suppression, cidr: string): boolean {
  if (!parsedCidrs.has(suppression)) parsedCidrs.set(suppression, parseCidr(cidr));
  const range = parsedCidrs.get(suppression);
  // Cluster-level findings carry a synthetic id, not an address: no CIDR can contain them.
  return range !== undefined && containsIp(range, ip);
}

/**
 * A range finding matches only if all its ports are inside. One whose port set is not known as a
 * value (a `portSpec` without `ports`) is never hidden: over-reporting beats hiding an exposure.
 */
function portsWithin(finding: ClassifiedFinding, ports: PortSet): boolean {
  if (finding.ports) return ports.covers(finding.ports);
  return finding.portSpec === undefined && ports.has(finding.port);
}

export function isActive(suppression: Suppression, now: Date): boolean {
  return !suppression.expires || suppression.expires.getTime() > now.getTime();
}

/** True if this suppression covers the finding right now. */
export function suppresses(suppression: Suppression, finding: ClassifiedFinding, now: Date): boolean {
  if (!isActive(suppression, now)) return false;
  if (suppression.account !== undefined && suppression.account !== finding.account) return false;
  if (suppression.cluster !== undefined && suppression.cluster !== finding.cluster) return false;
  if (suppression.kinds && !suppression.kinds.includes(finding.kind)) return false;
  if (suppression.cidr !== undefined && !ipWithin(finding.ip, suppression, suppression.cidr)) return false;
  if (suppression.ports && !portsWithin(finding, suppression.ports)) return false;
  return true;
}

/** The first active suppression covering the finding, if any. */
export function suppressionFor(
  finding: ClassifiedFinding,
  suppressions: readonly Suppression[],
  now: Date,
): Suppression | undefined {
  return suppressions.find((s) => suppresses(s, finding, now));
}

/** Splits findings into those to report and those an active suppression covers. */
export function applySuppressions<F extends ClassifiedFinding>(
  findings: readonly F[],
  suppressions: readonly Suppression[],
  now: Date,
): { reported: F[]; suppressed: F[] } {
  const reported: F[] = [];
  const suppressed: F[] = [];
  for (const f of findings) (suppressionFor(f, suppressions, now) ? suppressed : reported).push(f);
  return { reported, suppressed };
}
