import type { AddressPolicy } from "../net/address-policy.ts";
import type { PortSet } from "../ports/port-set.ts";
import type { AnchorEndpoint } from "./timing-anchor.ts";

/** One host's scan result: the JSON contract of `portwarden scan --json` (see README). */
export interface ScanResult {
  /** What the user asked for (hostname or IP). */
  target: string;
  /** The address actually scanned. */
  ip: string;
  /** Open ports, ascending. */
  open: number[];
  /** Count of ports that answered RST. */
  closed: number;
  /** Count of ports that never answered (after retries). */
  filtered: number;
  /** False when any port's state is unknown (local error, deadline): never resolve from it. */
  complete: boolean;
  durationMs: number;
  /** Ports whose state stayed unknown (local errors or deadline). Omitted when zero. */
  unknown?: number;
  /** Why the scan is incomplete, when it is. */
  error?: string;
}

export interface ScanOptions {
  ports: PortSet;
  /** Per-target port sets (key: the target as passed), replacing `ports` for those targets. */
  hostPorts?: ReadonlyMap<string, PortSet>;
  /** Max sockets in flight across all targets. Default 900 (Lambda allows 1,024 fds). */
  socketBudget?: number;
  /** Epoch ms by which scanHosts must have returned (Lambda's remaining time minus a margin). */
  deadline?: number;
  /**
   * Timing anchors (key: the target as passed): the scan measures a few handshakes to each and
   * lends the RTT to its targets until they answer themselves (lib/scan/timing-anchor.ts).
   */
  timingAnchors?: ReadonlyMap<string, AnchorEndpoint>;
  /** Called now and then with progress; cheap to omit. */
  onProgress?: (p: ScanProgress) => void;
  /**
   * Whether loopback/private addresses may be scanned. Default: they may (the socket layer only
   * holds the never-scanned list; the round entry decides about internal ones and passes it here).
   * Link-local, metadata, unspecified, multicast and broadcast addresses are refused whatever this says.
   */
  addressPolicy?: AddressPolicy;
}

export interface ScanProgress {
  probesDone: number;
  probesTotal: number;
  open: number;
}
