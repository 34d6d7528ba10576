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
 * `net` is built on (under half the CPU per probe, and it can reconnect refused sockets; see
 * BENCHMARKS.md), and `net.Socket` as the portable fallback.
 */
export interface Connector {
  readonly name: string;
  /** Starts the connect. Returns 0, or a negative errno if it failed synchronously (EMFILE…). */
  start(probe: Probe, ip: string, family: 4 | 6): number;
  /** Gives up on a pending connect (timeout, deadline). No callback follows. */
  abort(probe: Probe): void;
  /**
   * The connect was refused: the connector may keep the socket for the next probe of the same
   * family instead of closing it (one socket()+close() and two epoll_ctl() fewer per closed port).
   */
  release(probe: Probe, family: 4 | 6): void;
  /** Closes every socket kept for reuse (budget shrink, end of scan). */
  trim(): void;
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
  ECONNABORTED: -(errno.ECONNABORTED ?? 103),
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

/** Refused sockets kept for reuse, per family. Each is an open fd, so the pool stays small. */
const POOL_MAX = 64;

class TcpWrapConnector implements Connector {
  readonly name = "tcp_wrap";
  private readonly onComplete: (status: number, handle: unknown, req: { probe?: Probe }) => void;
  private readonly idle4: TcpHandle[] = [];
  private readonly idle6: TcpHandle[] = [];

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
    const req = new this.binding.TCPConnectWrap();
    req.oncomplete = this.onComplete;
    req.probe = probe;
    const reused = (family === 6 ? this.idle6 : this.idle4).pop();
    if (reused !== undefined) {
      // Linux lets a socket whose connect was refused connect again: the first connect() on it
      // only resets it to "unconnected" (ECONNABORTED, no packet sent), the next one sends a SYN.
      let err = connectHandle(reused, req, ip, probe.port, family);
      if (err === UV.ECONNABORTED) err = connectHandle(reused, req, ip, probe.port, family);
      if (err === 0) {
        probe.handle = reused;
        return 0;
      }
      // Not reusable after all (another kernel, a local error): a fresh socket decides.
      reused.close();
    }
    const handle = new this.binding.TCP(this.binding.constants.SOCKET);
    probe.handle = handle;
    const err = connectHandle(handle, req, ip, probe.port, family);
    if (err !== 0) handle.close();
    return err;
  }

  abort(probe: Probe): void {
    (probe.handle as TcpHandle).close();
  }

  release(probe: Probe, family: 4 | 6): void {
    const pool = family === 6 ? this.idle6 : this.idle4;
    if (pool.length < POOL_MAX) pool.push(probe.handle as TcpHandle);
    else (probe.handle as TcpHandle).close();
    probe.handle = undefined;
  }

  trim(): void {
    while (this.idle4.length > 0) (this.idle4.pop() as TcpHandle).close();
    while (this.idle6.length > 0) (this.idle6.pop() as TcpHandle).close();
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

function connectHandle(handle: TcpHandle, req: unknown, ip: string, port: number, family: 4 | 6): number {
  return family === 6 ? handle.connect6(req, ip, port) : handle.connect(req, ip, port);
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

  release(probe: Probe): void {
    (probe.handle as Socket).destroy();
  }

  trim(): void {
    // net.Socket cannot connect again after an error: nothing is kept.
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
