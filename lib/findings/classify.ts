import { type CatalogEntry, catalogEntryFor, KUBERNETES_PORTS } from "../catalog/kubernetes-ports.ts";
import { serviceFacts, unprovenSeverity } from "../catalog/services.ts";
import { atLeast, SEVERITIES, type Severity, severityRank } from "../catalog/severity.ts";
import { PortSet } from "../ports/port-set.ts";
import type { ProbeResult } from "../probes/types.ts";
import { type Finding, type FindingKind, HOST_FINDING_PORT, type NodeContext } from "./types.ts";

/**
 * A finding as classification makes it. A range finding (latent over several ports, a host
 * answering everything) also carries its ports as a value: `ports`, of which `portSpec` is the text
 * in the alert and record contract. `ports` lives in memory only, for suppressions to match
 * against: `recordable` drops it before anything is recorded, reported or sent.
 */
export interface ClassifiedFinding extends Finding {
  ports?: PortSet;
}

/** The finding as the state, reports and alerts carry it (without the in-memory port set). */
export function recordable(finding: ClassifiedFinding): Finding {
  const { ports: _inMemoryOnly, ...out } = finding;
  return out;
}

/** What classification knows about one scanned IP. */
export interface ClassifyInput extends NodeContext {
  ip: string;
  /** Open ports found by the scan, ascending. */
  open: readonly number[];
  /** The ports that were scanned (latent findings are only claimed where we looked). */
  scanned: PortSet;
  /** Probe results for open ports; a missing one falls back to the catalogue. */
  probes?: readonly ProbeResult[];
  /** Ports some security group opens to 0.0.0.0/0 or ::/0. Undefined: no SG data (`--targets`). */
  internetAllowed?: PortSet;
  /** Ports opened only to specific public CIDRs. */
  publicCidrAllowed?: PortSet;
}

/** Which rule lets a port in, as far as we know. */
type Path = "internet" | "public-cidr" | "no-rule" | "no-sg-data";

/** Catalogue entries worth a latent finding when open to the world: medium and above (not 80/443/53). */
const LATENT_WORTHY = KUBERNETES_PORTS.filter((e) => atLeast(e.severity, "medium"));

const UNKNOWN_PORT_FIX =
  "Stop the listener if it is not meant to be public, or close the port in the node's security group.";

const UNEXPLAINED_WHY =
  "no security-group rule we know of allows it (a stale IP now someone else's? another path, e.g. a load balancer?) — worth a look";

/** One step less severe, never below `info`. */
export function lowerSeverity(severity: Severity, steps = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, severityRank(severity) + steps)] as Severity;
}

function pathFor(port: number, input: ClassifyInput): Path {
  if (!input.internetAllowed) return "no-sg-data";
  if (input.internetAllowed.has(port)) return "internet";
  if (input.publicCidrAllowed?.has(port)) return "public-cidr";
  return "no-rule";
}

function kindFor(path: Path): FindingKind {
  // No SG data (--targets): the scan itself proved the port reachable from here, so it is exposed.
  return path === "no-rule" ? "unexplained" : "exposed";
}

function pathNote(path: Path): string | undefined {
  switch (path) {
    case "internet":
      return "a security group allows it from 0.0.0.0/0";
    case "public-cidr":
      return "a security group allows it from specific public CIDRs only";
    case "no-rule":
      return UNEXPLAINED_WHY;
    case "no-sg-data":
      return undefined;
  }
}

/**
 * The finding of one open port. With an identifying probe: what answered, rated from proof. Without
 * one (silence, timeout, not probed): `unknown`, rated by policy (the catalogue's default for the
 * port, never critical) and `basis: "policy"`, so the diff keeps an earlier proven verdict instead.
 */
function openPortFinding(port: number, input: ClassifyInput, probe: ProbeResult | undefined): Finding {
  // The probe carries the round's catalogue lookup for this port (an array read either way).
  const entry = probe?.expected ?? catalogEntryFor(port);
  const path = pathFor(port, input);
  const proven = probe?.severity !== undefined;
  let severity = probe?.severity ?? unprovenSeverity(entry);
  // Reachable only from chosen networks: the audience is smaller, so is the urgency.
  if (path === "public-cidr") severity = lowerSeverity(severity);
  const service = proven && probe ? probe.service : "unknown";
  const proof = proven
    ? (probe?.evidence ?? "")
    : `${probe ? `not identified this round (${probe.evidence})` : "TCP connect succeeded, not probed"}; rated by policy${entry ? ` as the expected ${entry.service}` : " as an unknown open port"}`;
  const note = pathNote(path);
  return {
    ...context(input),
    ip: input.ip,
    port,
    service,
    ...(entry ? { expected: entry.service } : {}),
    basis: proven ? "probe" : "policy",
    severity,
    kind: kindFor(path),
    evidence: note ? `${proof}; ${note}` : proof,
    fix: fixFor(service, entry),
  };
}

/** Services that say what protocol answered, not what it is: their fix depends on the port. */
const ORDINARY_SERVICES = new Set(["http", "https", "tls", "banner", "unknown"]);

/**
 * The port's own fix when what answered is what the catalogue expects (or was rated as it, or the
 * entry is a range like NodePorts); the identified service's fix otherwise (Docker on 9100 gets
 * Docker's); a generic one for an ordinary web server where a Kubernetes service was expected.
 */
function fixFor(service: string, entry: CatalogEntry | undefined): string {
  if (entry && (entry.service === service || service === "unknown" || entry.from !== entry.to))
    return entry.fix;
  return (!ORDINARY_SERVICES.has(service) ? serviceFacts(service)?.fix : undefined) ?? UNKNOWN_PORT_FIX;
}

/** Open ports at and above which a host answering most scanned ports is a SYN proxy or tarpit. */
export const ANSWERS_EVERYTHING_MIN_OPEN = 64;
/** Fraction of the scanned ports open from which such a host answers "everything". */
export const ANSWERS_EVERYTHING_FRACTION = 0.5;

/** True when a host's open ports say "SYN proxy or tarpit" rather than "services". */
export function answersEverything(openCount: number, scannedCount: number): boolean {
  return openCount >= ANSWERS_EVERYTHING_MIN_OPEN && openCount >= ANSWERS_EVERYTHING_FRACTION * scannedCount;
}

/**
 * One finding for a host that answers on (nearly) every port, stored as port 0 with the open range
 * as `portSpec`; only ports whose probe identified a service get findings of their own.
 */
function answersEverythingFinding(input: ClassifyInput, identified: number): ClassifiedFinding {
  const first = input.open[0] ?? 0;
  const last = input.open[input.open.length - 1] ?? first;
  const ports = PortSet.fromRanges([{ from: first, to: last }]);
  const path = pathFor(first, input);
  const note = pathNote(path);
  const facts = serviceFacts(TARPIT_SERVICE);
  const evidence = `answers on ${input.open.length} of ${input.scanned.size} scanned ports (a SYN proxy or tarpit?): probed at most 32, ${identified} identified and reported separately, the rest reported here as one finding`;
  return {
    ...context(input),
    ip: input.ip,
    port: HOST_FINDING_PORT,
    portSpec: ports.toSpec(),
    ports,
    service: TARPIT_SERVICE,
    basis: "policy",
    severity: path === "public-cidr" ? "low" : "medium",
    kind: kindFor(path),
    evidence: note ? `${evidence}; ${note}` : evidence,
    ...(facts ? { fix: facts.fix } : {}),
  };
}

const TARPIT_SERVICE = "tarpit";

function latentFinding(
  entry: CatalogEntry,
  allowed: PortSet,
  listening: number,
  input: ClassifyInput,
): ClassifiedFinding {
  const first = allowed.ranges[0]?.from ?? entry.from;
  const isRange = allowed.size > 1;
  const what = isRange ? `ports ${allowed.toSpec()}` : `port ${first}`;
  const others = listening > 0 ? ` (${listening} of them already listen and are reported separately)` : "";
  return {
    ...context(input),
    ip: input.ip,
    port: first,
    ...(isRange ? { portSpec: allowed.toSpec(), ports: allowed } : {}),
    service: entry.service,
    // Nothing listens yet: a warning, below any real exposure of the same service.
    severity: lowerSeverity(entry.severity, entry.severity === "critical" ? 2 : 1),
    kind: "latent",
    evidence: `a security group opens ${what} (${entry.service}) to 0.0.0.0/0 but nothing listens yet${others}; the next ${entry.service} listener will be public`,
    fix: entry.fix,
  };
}

function context(input: ClassifyInput): NodeContext {
  const out: NodeContext = {};
  if (input.account !== undefined) out.account = input.account;
  if (input.region !== undefined) out.region = input.region;
  if (input.cluster !== undefined) out.cluster = input.cluster;
  if (input.instanceId !== undefined) out.instanceId = input.instanceId;
  if (input.tags !== undefined) out.tags = input.tags;
  return out;
}

/**
 * Turns one IP's scan (+ probes, + security-group knowledge) into findings:
 * every open port becomes `exposed` or `unexplained`; every sensitive catalogue port or range the
 * security groups open to the world where nothing listens becomes one `latent` finding.
 * Without SG data (`--targets`) open ports are `exposed` and nothing is latent.
 */
export function classifyExposures(input: ClassifyInput): ClassifiedFinding[] {
  const probes = new Map((input.probes ?? []).map((p) => [p.port, p]));
  let findings: ClassifiedFinding[];
  if (answersEverything(input.open.length, input.scanned.size)) {
    const identified = input.open.filter((port) => probes.get(port)?.severity !== undefined);
    findings = identified.map((port) => openPortFinding(port, input, probes.get(port)));
    findings.push(answersEverythingFinding(input, identified.length));
  } else {
    findings = input.open.map((port) => openPortFinding(port, input, probes.get(port)));
  }
  if (!input.internetAllowed) return findings;
  const open = PortSet.fromPorts(input.open);
  for (const entry of LATENT_WORTHY) {
    const allowed = PortSet.fromRanges([entry]).intersect(input.internetAllowed).intersect(input.scanned);
    if (allowed.isEmpty) continue;
    const listening = allowed.intersect(open).size;
    if (listening === allowed.size) continue;
    findings.push(latentFinding(entry, allowed, listening, input));
  }
  return findings;
}
