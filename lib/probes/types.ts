import type { CatalogEntry } from "../catalog/kubernetes-ports.ts";
import type { Severity } from "../catalog/severity.ts";
import type { AddressPolicy } from "../net/address-policy.ts";

/**
 * What a probe proved about one open port. The service is what *answered* (identified by
 * protocol: TLS or plain, then the service's own signature), never what the port number
 * suggests; `expected` is the catalogue's entry for the port number.
 */
export interface ProbeResult {
  port: number;
  /** What answered: `docker`, `kubelet`, `etcd-peer`, `node-exporter`, `http`, `ssh`, `tls`…; `unknown` when nothing could tell. */
  service: string;
  /** The catalogue's entry for this port number (looked up once per port per round), if any. */
  expected?: CatalogEntry;
  verdict: "anonymous-access" | "auth-required" | "reachable" | "fingerprint" | "no-answer" | "error";
  /**
   * Rating from proof, set whenever the probe identified what is there. Absent when nothing
   * could tell (silence, timeout, reset, not probed): classification then keeps the last proven
   * verdict or applies the documented policy.
   */
  severity?: Severity;
  /** One line for the alert, e.g. "GET /pods answered 200 without credentials (12 pods)". No secrets. */
  evidence: string;
}

export interface ProbeOptions {
  /** Epoch ms; probing stops and returns what it has before it. */
  deadline?: number;
  /** Probes in flight at once per call. */
  concurrency?: number;
  /** Per-step timeout (connect, TLS, first byte) in ms. */
  timeoutMs?: number;
  /** Time all probes of this IP may take together, in ms (default 15 s). */
  hostBudgetMs?: number;
  /**
   * Whether loopback/private addresses may be probed (default: yes; the round entry decides).
   * Link-local, metadata, unspecified, multicast and broadcast addresses are refused regardless.
   */
  addressPolicy?: AddressPolicy;
}

/** Probes every open port of one IP; never throws for a port, reports `error`/`no-answer` instead. */
export type ProbeOpenPorts = (
  ip: string,
  ports: readonly number[],
  options?: ProbeOptions,
) => Promise<ProbeResult[]>;
