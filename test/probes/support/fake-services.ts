import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";

/** What a fake service answers to one `METHOD /path` (query strings ignored). */
export interface Route {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface Listening {
  /** Requests seen, as `METHOD /path?query`, so tests can assert what the probe sent. */
  readonly requests: string[];
  close(): Promise<void>;
}

async function listen(
  server: Server,
  ip: string,
  port: number,
  sockets: Set<Socket>,
): Promise<() => Promise<void>> {
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, ip, () => resolve());
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

/**
 * An HTTP (or, given a certificate, HTTPS) server on `ip:port` that answers like a real service:
 * `routes["GET /pods"]` etc.; anything else gets 404.
 */
export async function startFakeService(options: {
  ip: string;
  port: number;
  tls?: { cert: string; key: string };
  routes: Record<string, Route>;
}): Promise<Listening> {
  const requests: string[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    const path = (req.url ?? "/").split("?")[0];
    const route = options.routes[`${req.method} ${path}`];
    const status = route?.status ?? 404;
    const body = route === undefined ? "404 page not found" : route.body;
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
      "content-type": typeof body === "string" ? "text/html" : "application/json",
      ...(route?.headers ?? {}),
    });
    res.end(text);
  };
  const server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  const close = await listen(server, options.ip, options.port, new Set());
  return { requests, close };
}

/** A plain TCP server that sends `greeting` (if any) on connect and then says nothing. */
export async function startRawService(options: {
  ip: string;
  port: number;
  tls?: { cert: string; key: string };
  greeting?: string;
  /** Sends one byte every this many ms, forever (a trickling, hostile service). */
  trickleEveryMs?: number;
  /** Stays silent until the client sends something, then greets (and trickles): an HTTP server. */
  speakWhenSpokenTo?: boolean;
}): Promise<Listening> {
  const timers = new Set<NodeJS.Timeout>();
  const onSocket = (socket: Socket): void => {
    socket.on("error", () => {});
    if (options.speakWhenSpokenTo) socket.once("data", () => speak(socket));
    else speak(socket);
  };
  const speak = (socket: Socket): void => {
    if (options.greeting) socket.write(options.greeting);
    if (options.trickleEveryMs) {
      const timer = setInterval(() => {
        if (!socket.destroyed) socket.write("x");
      }, options.trickleEveryMs);
      timers.add(timer);
      socket.on("close", () => {
        clearInterval(timer);
        timers.delete(timer);
      });
    }
  };
  const server = options.tls ? createTlsServer(options.tls, onSocket) : createNetServer(onSocket);
  const closeServer = await listen(server, options.ip, options.port, new Set());
  return {
    requests: [],
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      await closeServer();
    },
  };
}
