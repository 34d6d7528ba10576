import { KUBERNETES_PORTS } from "./kubernetes-ports.ts";
import type { Severity } from "./severity.ts";

/**
 * What an identified service gives an attacker and how to fix it, by the service name a probe
 * identified (which may differ from the port's catalogue name: Docker on 9100 is Docker).
 */
export interface ServiceFacts {
  readonly exposes: string;
  readonly fix: string;
}

/** Services a probe can identify that are not (or not only) a catalogue port's name. */
const IDENTIFIED_ONLY: Readonly<Record<string, ServiceFacts>> = {
  "etcd-peer": {
    exposes:
      "etcd's peer (raft) port: cluster membership and replication traffic, the whole keyspace in snapshots.",
    fix: "Run etcd with --peer-client-cert-auth=true and a peer CA; allow 2380 only between control-plane nodes.",
  },
  "prometheus-metrics": {
    exposes: "Prometheus metrics without authentication: component versions, host and workload inventory.",
    fix: "Bind the metrics listener to 127.0.0.1 or allow it only from Prometheus.",
  },
  "kubernetes-component": {
    exposes: "A Kubernetes component's secure port (healthz, metrics, profiling for authorised users).",
    fix: "Bind it to 127.0.0.1 (--bind-address) and block the port at the security group.",
  },
  mtls: {
    exposes:
      "A TLS service that demands a client certificate: authenticated, but reachable by anyone holding one.",
    fix: "Allow the port only from the networks of the clients that hold certificates.",
  },
  https: {
    exposes: "An HTTPS service (web application, API or dashboard).",
    fix: "If it is not meant to be public, stop it or restrict its security-group rule; otherwise allow-list it.",
  },
  tls: {
    exposes: "A TLS service that answered no HTTP request.",
    fix: "If it is not meant to be public, stop it or restrict its security-group rule.",
  },
  tarpit: {
    exposes:
      "The host accepts connections on (nearly) every port, as a SYN proxy or tarpit does: a port scan cannot tell which services are real.",
    fix: "If this is not an intended SYN proxy, find what answers for every port (iptables REDIRECT, a proxy) and remove it.",
  },
};

const BY_NAME: ReadonlyMap<string, ServiceFacts> = new Map<string, ServiceFacts>([
  ...KUBERNETES_PORTS.map((e) => [e.service, { exposes: e.exposes, fix: e.fix }] as const),
  ...Object.entries(IDENTIFIED_ONLY),
]);

/** Facts for an identified service name; undefined for `unknown` and names nobody described. */
export function serviceFacts(service: string): ServiceFacts | undefined {
  return BY_NAME.get(service);
}

/**
 * Severity when the probe proved nothing (silence, a timeout, not probed): the catalogue's
 * default for the port, but never critical, which takes proof. Unknown ports: medium.
 */
export function unprovenSeverity(expected: { severity: Severity } | undefined): Severity {
  if (!expected) return "medium";
  return expected.severity === "critical" ? "high" : expected.severity;
}

/**
 * Severity of an ordinary service (a web page, an SSH banner, a TLS endpoint) found where the
 * catalogue expected something else: medium, or the catalogue's lower default on ingress ports
 * (80, 443: info) and DNS.
 */
export function ordinaryServiceSeverity(expected: { severity: Severity } | undefined): Severity {
  if (!expected) return "medium";
  return expected.severity === "low" || expected.severity === "info" ? expected.severity : "medium";
}
