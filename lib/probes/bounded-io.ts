import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { type DetailedPeerCertificate, type PeerCertificate, connect as tlsConnect } from "node:tls";

/** Where a probe points. */
export interface ProbeTarget {
  readonly ip: string;
  readonly port: number;
}

/** Bounds of one exchange: every probe step obeys all three. */
export interface ExchangeLimits {
  /** Connect, TLS handshake and silence between bytes may each last this long (ms). */
  readonly timeoutMs: number;
  /** Epoch ms by which the exchange is abandoned whatever it is doing (trickling servers). */
  readonly until: number;
  /** Bytes of body (or banner) read at most; the rest is never read. */
  readonly maxBytes: number;
}

/** Why an exchange produced no answer. `client-cert-required`: the TLS server demanded a client certificate. */
export type ExchangeFailure =
  | "timeout"
  | "refused"
  | "reset"
  | "client-cert-required"
  | "tls"
  | "protocol"
  | "error";

export interface Failed {
  readonly ok: false;
  readonly failure: ExchangeFailure;
  /** Short, safe description (error code, never remote content). */
  readonly detail: string;
}

export interface HttpAnswer {
  readonly ok: true;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** At most `maxBytes` bytes of body, decoded as UTF-8. */
  readonly body: string;
  /** True when the body was cut at `maxBytes` or by the time limit. */
  readonly truncated: boolean;
}

export interface HttpRequest {
  readonly tls: boolean;
  readonly method: "GET" | "POST";
  readonly path: string;
  /** JSON body for POST (etcd's count-only range). */
  readonly json?: unknown;
}

/** Response headers are small for every service we probe; a huge header block is hostile. */
const MAX_HEADER_BYTES = 8192;

function failure(error: unknown): Failed {
  const code = String((error as { code?: unknown })?.code ?? "");
  const message = error instanceof Error ? error.message : String(error);
  const text = `${code} ${message}`;
  if (code === "ECONNREFUSED") return { ok: false, failure: "refused", detail: code };
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|certificate required/i.test(text))
    return { ok: false, failure: "client-cert-required", detail: code || "certificate required" };
  if (code === "ECONNRESET" || code === "EPIPE" || /socket hang up/i.test(message))
    return { ok: false, failure: "reset", detail: code || "connection closed" };
  if (/SSL|TLS|EPROTO/i.test(text)) return { ok: false, failure: "tls", detail: code || "TLS error" };
  if (code.startsWith("HPE_")) return { ok: false, failure: "protocol", detail: code };
  return { ok: false, failure: "error", detail: code || "error" };
}

const timedOut = (ms: number): Failed => ({
  ok: false,
  failure: "timeout",
  detail: `no answer within ${ms} ms`,
});

/**
 * One HTTP(S) request with hard bounds: a connect/idle timeout, an absolute end time that holds
 * even against a server trickling bytes forever, a header and body byte cap, no redirects
 * (node:http never follows them) and no connection reuse. Never throws.
 */
export function httpRequest(
  target: ProbeTarget,
  request: HttpRequest,
  limits: ExchangeLimits,
): Promise<HttpAnswer | Failed> {
  return new Promise((resolve) => {
    const payload = request.json === undefined ? undefined : JSON.stringify(request.json);
    let settled = false;
    let partial: { status: number; headers: IncomingHttpHeaders; chunks: Buffer[]; size: number } | undefined;
    const answer = (truncated: boolean): HttpAnswer => ({
      ok: true,
      status: partial?.status ?? 0,
      headers: partial?.headers ?? {},
      body: Buffer.concat(partial?.chunks ?? []).toString("utf8"),
      truncated,
    });
    const finish = (outcome: HttpAnswer | Failed): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hardStop);
      clearTimeout(idle);
      req.destroy();
      resolve(outcome);
    };
    const options: https.RequestOptions = {
      host: target.ip,
      port: target.port,
      method: request.method,
      path: request.path,
      agent: false,
      maxHeaderSize: MAX_HEADER_BYTES,
      headers: {
        "user-agent": "portwarden (read-only exposure probe)",
        accept: "application/json, */*;q=0.5",
        connection: "close",
        ...(payload !== undefined
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {}),
      },
      // Nodes and control planes serve self-signed or private-CA certificates, so verification is
      // off: we only read what the port gives to anyone, we never send credentials.
      rejectUnauthorized: false,
    };
    const req = (request.tls ? https : http).request(options, (res) => {
      partial = { status: res.statusCode ?? 0, headers: res.headers, chunks: [], size: 0 };
      const body = partial;
      stillWaiting();
      res.on("data", (chunk: Buffer) => {
        stillWaiting();
        const room = limits.maxBytes - body.size;
        body.chunks.push(chunk.subarray(0, Math.max(0, room)));
        body.size += Math.min(chunk.length, Math.max(0, room));
        if (chunk.length >= room) finish(answer(true));
      });
      res.on("end", () => finish(answer(false)));
      res.on("error", () => finish(answer(true)));
      res.on("aborted", () => finish(answer(true)));
    });

    req.on("error", (error) => finish(partial ? answer(true) : failure(error)));
    // Own idle timer: connect + TLS + first byte, then each gap between chunks, gets timeoutMs.
    let idle: NodeJS.Timeout | undefined;
    const stillWaiting = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(partial ? answer(true) : timedOut(limits.timeoutMs)), limits.timeoutMs);
    };
    stillWaiting();
    const budget = Math.max(0, limits.until - Date.now());
    const hardStop = setTimeout(() => finish(partial ? answer(true) : timedOut(budget)), budget);
    req.end(payload);
  });
}

/** What a TLS certificate says about the service behind it. */
export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly altNames: readonly string[];
  readonly selfSigned: boolean;
}

function commonName(name: PeerCertificate["subject"] | undefined): string {
  const cn = name?.CN;
  return Array.isArray(cn) ? cn.join(",") : (cn ?? "");
}

function summarise(cert: DetailedPeerCertificate): CertificateSummary | undefined {
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const altNames = (cert.subjectaltname ?? "")
    .split(",")
    .map((name) => name.trim().replace(/^(DNS|IP Address):/, ""))
    .filter((name) => name !== "");
  const subject = commonName(cert.subject);
  const issuer = commonName(cert.issuer);
  return {
    subject,
    issuer,
    altNames,
    selfSigned: cert.fingerprint256 === cert.issuerCertificate?.fingerprint256,
  };
}

/** A TLS handshake only (no bytes sent after it), for the server certificate. Never throws. */
export function tlsCertificate(
  target: ProbeTarget,
  limits: ExchangeLimits,
): Promise<{ ok: true; certificate?: CertificateSummary } | Failed> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: { ok: true; certificate?: CertificateSummary } | Failed): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hardStop);
      socket.destroy();
      resolve(outcome);
    };
    // Self-signed node certificates are the norm: verification off, the certificate is only read.
    const socket = tlsConnect({ host: target.ip, port: target.port, rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      const certificate = summarise(socket.getPeerCertificate(true));
      finish(certificate ? { ok: true, certificate } : { ok: true });
    });
    socket.on("error", (error) => finish(failure(error)));
    socket.on("close", () =>
      finish({ ok: false, failure: "reset", detail: "closed during the TLS handshake" }),
    );
    // Connect + handshake together get one step timeout.
    const hardStop = setTimeout(
      () => finish(timedOut(limits.timeoutMs)),
      Math.max(0, Math.min(limits.until - Date.now(), limits.timeoutMs)),
    );
  });
}

/**
 * Connects and waits up to `waitMs` for the server to speak first (SSH, SMTP, FTP…); returns its
 * first line (at most `maxBytes`), or `silent` when it waits for the client. Never throws.
 */
export function readBanner(
  target: ProbeTarget,
  waitMs: number,
  limits: ExchangeLimits,
): Promise<{ ok: true; line?: string } | Failed> {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let received = Buffer.alloc(0);
    const finish = (outcome: { ok: true; line?: string } | Failed): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hardStop);
      clearTimeout(silence);
      clearTimeout(connectTimer);
      socket.destroy();
      resolve(outcome);
    };
    const firstLine = (): { ok: true; line?: string } => {
      const text = received.toString("latin1");
      const line = text.split(/\r?\n/)[0] ?? "";
      return line === "" ? { ok: true } : { ok: true, line };
    };
    let silence: NodeJS.Timeout | undefined;
    const socket: Socket = netConnect({ host: target.ip, port: target.port });
    const connectTimer = setTimeout(() => finish(timedOut(limits.timeoutMs)), limits.timeoutMs);
    socket.once("connect", () => {
      connected = true;
      clearTimeout(connectTimer);
      silence = setTimeout(() => finish(firstLine()), waitMs);
    });
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]).subarray(0, limits.maxBytes);
      if (received.includes(0x0a) || received.length >= limits.maxBytes) finish(firstLine());
    });
    socket.on("end", () => finish(firstLine()));
    socket.on("error", (error) => finish(connected ? firstLine() : failure(error)));
    const hardStop = setTimeout(
      () => finish(connected ? firstLine() : timedOut(limits.timeoutMs)),
      Math.max(0, limits.until - Date.now()),
    );
  });
}
