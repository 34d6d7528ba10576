import { Socket } from "node:net";
import { constants as osConstants } from "node:os";

/** One connect attempt in flight. Kept tiny: the scan loop allocates one per probe. */
export interface Probe {
  hostIndex: number;
  port: number;
  attempt: number;
  startedAt: number;
  /** Set once the probe has been accounted for (answer, timeout, abort). */
  settled: boolean;
  /** Connector-private handle. */
  handle: unknown;
}

/** Called once per probe with 0 (connected) or a negative errno (libuv convention). */
export type ProbeCallback = (probe: Probe, status: number) => void;

/**
 * Starts TCP connects and tears them down. Two implementations: the libuv TCP handle Node's own
 * `net` is built on (3x less CPU per probe, measured in BENCHMARKS.md), and `net.Socket` as the
 * portable fallback.
 */
export interface Connector {
  readonly name: string;
  /** Starts the connect. Returns 0, or a negative errno if it failed synchronously (EMFILE…). */
  start(probe: Probe, ip: string, family: 4 | 6): number;
  /** Gives up on a pending connect (timeout, deadline). No callback follows. */
  abort(probe: Probe): void;
  /** Closes an established connection with RST so no TIME_WAIT piles up. */
  reset(probe: Probe): void;
  /** Local port of an established connection (self-connect detection on loopback). */
  localPort(probe: Probe): number | undefined;
}

const errno = osConstants.errno as Record<string, number>;
export const UV = {
  ECONNREFUSED: -(errno.ECONNREFUSED ?? 111),
  ETIMEDOUT: -(errno.ETIMEDOUT ?? 110),
  EHOSTUNREACH: -(errno.EHOSTUNREACH ?? 113),
  ENETUNREACH: -(errno.ENETUNREACH ?? 101),
  ECONNRESET: -(errno.ECONNRESET ?? 104),
  ECANCELED: -(errno.ECANCELED ?? 125),
  EMFILE: -(errno.EMFILE ?? 24),
  ENFILE: -(errno.ENFILE ?? 23),
  ENOBUFS: -(errno.ENOBUFS ?? 105),
  EADDRNOTAVAIL: -(errno.EADDRNOTAVAIL ?? 99),
  EAGAIN: -(errno.EAGAIN ?? 11),
  ENOMEM: -(errno.ENOMEM ?? 12),
} as const;

export function errnoName(status: number): string {
  for (const [name, value] of Object.entries(errno)) if (-value === status) return name;
  return `errno ${status}`;
}

interface TcpHandle {
  connect(req: unknown, address: string, port: number): number;
  connect6(req: unknown, address: string, port: number): number;
  close(cb?: () => void): void;
  reset(cb?: () => void): number;
  getsockname(out: { port?: number }): number;
}
interface TcpWrapBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => { oncomplete: unknown; probe?: Probe };
  constants: { SOCKET: number };
}

function loadTcpWrap(): TcpWrapBinding | undefined {
  try {
    // process.binding is deprecated for user code but still shipped (Node 20/22, Lambda runtimes);
    // the fallback below keeps portwarden working if it ever disappears.
    const binding = (process as unknown as { binding(name: string): TcpWrapBinding }).binding("tcp_wrap");
    if (typeof binding?.TCP === "function" && typeof binding.TCPConnectWrap === "function") return binding;
  } catch {
    // not available: use net.Socket
  }
  return undefined;
}

class TcpWrapConnector implements Connector {
  readonly name = "tcp_wrap";
  private readonly onComplete: (status: number, handle: unknown, req: { probe?: Probe }) => void;

  constructor(
    private readonly binding: TcpWrapBinding,
    callback: ProbeCallback,
  ) {
    this.onComplete = (status, _handle, req) => {
      const probe = req.probe;
      if (probe && !probe.settled) callback(probe, status);
    };
  }

  start(probe: Probe, ip: string, family: 4 | 6): number {
    const handle = new this.binding.TCP(this.binding.constants.SOCKET);
    const req = new this.binding.TCPConnectWrap();
    req.oncomplete = this.onComplete;
    req.probe = probe;
    probe.handle = handle;
    const err = family === 6 ? handle.connect6(req, ip, probe.port) : handle.connect(req, ip, probe.port);
    if (err !== 0) handle.close();
    return err;
  }

  abort(probe: Probe): void {
    (probe.handle as TcpHandle).close();
  }

  reset(probe: Probe): void {
    const handle = probe.handle as TcpHandle;
    if (handle.reset() !== 0) handle.close();
  }

  localPort(probe: Probe): number | undefined {
    const out: { port?: number } = {};
    return (probe.handle as TcpHandle).getsockname(out) === 0 ? out.port : undefined;
  }
}

class NetSocketConnector implements Connector {
  readonly name = "net.Socket";
  constructor(private readonly callback: ProbeCallback) {}

  start(probe: Probe, ip: string, family: 4 | 6): number {
    const socket = new Socket();
    probe.handle = socket;
    socket.once("connect", () => {
      if (!probe.settled) this.callback(probe, 0);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (probe.settled) return;
      const code = error.code ? errno[error.code] : undefined;
      this.callback(probe, code ? -code : UV.ECONNRESET);
    });
    socket.connect({ host: ip, port: probe.port, family });
    return 0;
  }

  abort(probe: Probe): void {
    (probe.handle as Socket).destroy();
  }

  reset(probe: Probe): void {
    (probe.handle as Socket).resetAndDestroy();
  }

  localPort(probe: Probe): number | undefined {
    return (probe.handle as Socket).localPort;
  }
}

export type ConnectorKind = "auto" | "tcp_wrap" | "net";

export function createConnector(kind: ConnectorKind, callback: ProbeCallback): Connector {
  if (kind !== "net") {
    const binding = loadTcpWrap();
    if (binding) return new TcpWrapConnector(binding, callback);
    if (kind === "tcp_wrap") throw new Error("tcp_wrap binding is not available in this Node.js");
  }
  return new NetSocketConnector(callback);
}
