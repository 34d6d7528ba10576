import type { Severity } from "../catalog/severity.ts";

/**
 * What a probe proved about one open port. `severity` overrides the catalogue's default when set
 * (anonymous kubelet → critical; healthy auth → keeps catalogue default or lower).
 */
export interface ProbeResult {
  port: number;
  /** Service name, refined by the probe (e.g. `etcd`, `kubelet`, `ssh`, `http`). */
  service: string;
  verdict: "anonymous-access" | "auth-required" | "reachable" | "fingerprint" | "no-answer" | "error";
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
}

/** Probes every open port of one IP; never throws for a port, reports `error`/`no-answer` instead. */
export type ProbeOpenPorts = (
  ip: string,
  ports: readonly number[],
  options?: ProbeOptions,
) => Promise<ProbeResult[]>;
