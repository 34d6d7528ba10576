import { catalogEntryFor } from "../catalog/kubernetes-ports.ts";
import type { Severity } from "../catalog/severity.ts";
import {
  type CertificateSummary,
  type ExchangeLimits,
  type Failed,
  type HttpAnswer,
  httpRequest,
  type ProbeTarget,
  readBanner,
  tlsCertificate,
} from "./bounded-io.ts";
import { htmlTitle, listSize, parseJsonObject, remoteText, versionText } from "./evidence.ts";
import type { ProbeResult } from "./types.ts";

/** Time one port's probe may take: each step's timeout, and an end no step may pass. */
export interface ProbeBudget {
  readonly timeoutMs: number;
  /** Epoch ms. */
  readonly until: number;
}

/** A read-only probe of one service on one open port. Never throws. */
export type ServiceProbe = (target: ProbeTarget, budget: ProbeBudget) => Promise<ProbeResult>;

/** Small answers (`/version`, `/healthz`, titles, banners). */
const SMALL_READ_BYTES = 4 * 1024;
/** Lists (pods): enough to recognise the kind and count a few items, never a whole node's pods. */
const LIST_READ_BYTES = 16 * 1024;
/** How long a silent port gets to send a banner before we speak first. */
const BANNER_WAIT_MS = 800;

/** etcd v3 range over every key ("\0" to "\0"), counting only: no value and no key leaves etcd. */
export const ETCD_COUNT_ALL_KEYS = { key: "AA==", range_end: "AA==", count_only: true } as const;

const limits = (budget: ProbeBudget, maxBytes: number): ExchangeLimits => ({ ...budget, maxBytes });

function result(
  target: ProbeTarget,
  service: string,
  verdict: ProbeResult["verdict"],
  evidence: string,
  severity?: Severity,
): ProbeResult {
  return { port: target.port, service, verdict, evidence, ...(severity ? { severity } : {}) };
}

function unanswered(target: ProbeTarget, service: string, what: string, failed: Failed): ProbeResult {
  const verdict = failed.failure === "timeout" ? "no-answer" : "error";
  return result(target, service, verdict, `${what}: ${failed.detail}`);
}

/** The answer spoke a different protocol than the one we tried: fingerprint instead. */
const spokeSomethingElse = (failed: Failed): boolean =>
  failed.failure === "tls" || failed.failure === "protocol" || failed.failure === "reset";

const hasKind = (body: string, kind: string): boolean => new RegExp(`"kind"\\s*:\\s*"${kind}"`).test(body);

const statusText = (status: number): string =>
  status === 401 ? "401 Unauthorized" : status === 403 ? "403 Forbidden" : String(status);

const isAuthRefusal = (status: number): boolean => status === 401 || status === 403;

const serviceName = (port: number, fallback: string): string => catalogEntryFor(port)?.service ?? fallback;

/** Kubelet API (10250, HTTPS): anonymous `GET /pods` is the whole node (logs, exec, env). */
export const probeKubelet: ServiceProbe = async (target, budget) => {
  const answer = await httpRequest(
    target,
    { tls: true, method: "GET", path: "/pods" },
    limits(budget, LIST_READ_BYTES),
  );
  if (!answer.ok) {
    return spokeSomethingElse(answer)
      ? fingerprintOther(target, budget)
      : unanswered(target, "kubelet", "GET /pods", answer);
  }
  if (answer.status === 200 && hasKind(answer.body, "PodList")) {
    const pods = listSize(answer.body, answer.truncated, "pod");
    return result(
      target,
      "kubelet",
      "anonymous-access",
      `GET /pods answered 200 without credentials (${pods}): anonymous kubelet, exec into any pod on the node`,
      "critical",
    );
  }
  if (isAuthRefusal(answer.status)) {
    return result(
      target,
      "kubelet",
      "auth-required",
      `GET /pods answered ${statusText(answer.status)} without credentials: kubelet authentication is on, but the API is reachable`,
      "high",
    );
  }
  return result(target, "kubelet", "reachable", `GET /pods answered ${answer.status} over TLS`);
};

/** Kubelet read-only port (10255, plain HTTP): no authentication exists there at all. */
export const probeKubeletReadOnly: ServiceProbe = async (target, budget) => {
  const answer = await httpRequest(
    target,
    { tls: false, method: "GET", path: "/pods" },
    limits(budget, LIST_READ_BYTES),
  );
  if (!answer.ok) {
    return spokeSomethingElse(answer)
      ? fingerprintOther(target, budget)
      : unanswered(target, "kubelet-readonly", "GET /pods", answer);
  }
  if (answer.status === 200 && hasKind(answer.body, "PodList")) {
    const pods = listSize(answer.body, answer.truncated, "pod");
    return result(
      target,
      "kubelet-readonly",
      "anonymous-access",
      `GET /pods answered 200 over plain HTTP without credentials (${pods}): kubelet read-only port leaks pod specs`,
      "critical",
    );
  }
  return fingerprintOther(target, budget);
};

/** etcd's answer when role-based auth is on and no token was sent (gRPC InvalidArgument → 400). */
const ETCD_USER_AUTH_ERROR = /user name is empty|invalid auth token|permission denied/;

async function etcdKeyCount(
  target: ProbeTarget,
  tls: boolean,
  budget: ProbeBudget,
): Promise<{ text: string; userAuth: boolean }> {
  const answer = await httpRequest(
    target,
    { tls, method: "POST", path: "/v3/kv/range", json: ETCD_COUNT_ALL_KEYS },
    limits(budget, SMALL_READ_BYTES),
  );
  if (!answer.ok) return { text: `POST /v3/kv/range (count only): ${answer.detail}`, userAuth: false };
  if (answer.status === 200) {
    const count = parseJsonObject(answer.body)?.count ?? "0";
    const keys = typeof count === "string" || typeof count === "number" ? Number(count) : Number.NaN;
    if (Number.isFinite(keys))
      return { text: `POST /v3/kv/range (count only, no values read) counted ${keys} keys`, userAuth: false };
  }
  if (ETCD_USER_AUTH_ERROR.test(answer.body) || isAuthRefusal(answer.status)) {
    return {
      text: `POST /v3/kv/range answered ${answer.status}: etcd user auth is on (passwords are all that is left)`,
      userAuth: true,
    };
  }
  return { text: `POST /v3/kv/range answered ${answer.status}`, userAuth: false };
}

/**
 * etcd (2379 client, 2380 peer): `GET /version` over HTTP, then HTTPS without a client certificate.
 * Any answer means no client-cert auth: critical. The v3 count-only range proves data access (or
 * shows that etcd's own user auth stands in the way).
 */
export const probeEtcd: ServiceProbe = async (target, budget) => {
  for (const tls of [false, true]) {
    const answer = await httpRequest(
      target,
      { tls, method: "GET", path: "/version" },
      limits(budget, SMALL_READ_BYTES),
    );
    if (answer.ok) {
      const version = versionText(parseJsonObject(answer.body)?.etcdserver);
      // Go answers plain HTTP on a TLS port with 400: try TLS next.
      if (answer.status !== 200 || version === undefined) continue;
      const how = tls ? "over TLS without a client certificate" : "over plain HTTP";
      const data = await etcdKeyCount(target, tls, budget);
      // No client-cert auth is critical either way; user auth only narrows what is proven.
      return result(
        target,
        "etcd",
        data.userAuth ? "reachable" : "anonymous-access",
        `etcd ${version} answered GET /version ${how}; ${data.text}`,
        "critical",
      );
    }
    if (answer.failure === "client-cert-required") {
      return result(
        target,
        "etcd",
        "auth-required",
        "TLS handshake refused without a client certificate: etcd client-cert auth is on, but the port is reachable",
        "high",
      );
    }
    if (answer.failure === "timeout") return unanswered(target, "etcd", "GET /version", answer);
  }
  return fingerprintOther(target, budget);
};

/** Kubernetes API server (6443, 443, 8443): version (normal), then an anonymous namespace list. */
export const probeApiServer: ServiceProbe = async (target, budget) => {
  const version = await httpRequest(
    target,
    { tls: true, method: "GET", path: "/version" },
    limits(budget, SMALL_READ_BYTES),
  );
  if (!version.ok) {
    return spokeSomethingElse(version)
      ? fingerprintOther(target, budget)
      : unanswered(target, serviceName(target.port, "kube-apiserver"), "GET /version", version);
  }
  const gitVersion = versionText(parseJsonObject(version.body)?.gitVersion);
  const refusedStatus = isAuthRefusal(version.status) && hasKind(version.body, "Status");
  if (gitVersion === undefined && !refusedStatus) return fingerprintOther(target, budget);
  const named = gitVersion ? `Kubernetes API server ${gitVersion} (GET /version)` : "Kubernetes API server";
  // limit=1 keeps the answer tiny; remainingItemCount still tells how many there are.
  const list = await httpRequest(
    target,
    { tls: true, method: "GET", path: "/api/v1/namespaces?limit=1" },
    limits(budget, LIST_READ_BYTES),
  );
  if (list.ok && list.status === 200 && hasKind(list.body, "NamespaceList")) {
    return result(
      target,
      "kube-apiserver",
      "anonymous-access",
      `${named}: anonymous GET /api/v1/namespaces answered 200 (${namespaceCount(list)}): the API serves anonymous users`,
      "critical",
    );
  }
  const refusal = list.ok ? `answered ${statusText(list.status)}` : `failed (${list.detail})`;
  return result(
    target,
    "kube-apiserver",
    list.ok && isAuthRefusal(list.status) ? "auth-required" : "reachable",
    `${named}: anonymous GET /api/v1/namespaces ${refusal}; the API is reachable from here`,
    "high",
  );
};

function namespaceCount(list: HttpAnswer): string {
  const parsed = list.truncated ? undefined : parseJsonObject(list.body);
  const items = parsed?.items;
  const metadata = parsed?.metadata as { remainingItemCount?: unknown } | undefined;
  if (!Array.isArray(items)) return "a namespace list";
  const remaining = typeof metadata?.remainingItemCount === "number" ? metadata.remainingItemCount : 0;
  const total = items.length + remaining;
  return `${total} namespace${total === 1 ? "" : "s"}`;
}

/** API server insecure port (8080) or a `kubectl proxy` (8001): plain HTTP `/api` answering = admin. */
export const probeInsecureApi: ServiceProbe = async (target, budget) => {
  const answer = await httpRequest(
    target,
    { tls: false, method: "GET", path: "/api" },
    limits(budget, SMALL_READ_BYTES),
  );
  if (answer.ok && answer.status === 200 && hasKind(answer.body, "APIVersions")) {
    const service = target.port === 8001 ? "kubectl-proxy" : "kube-apiserver-insecure";
    const what =
      service === "kubectl-proxy"
        ? "a kubectl proxy forwards anyone's requests with its user's credentials"
        : "the API server's insecure port, no authentication or authorization";
    return result(
      target,
      service,
      "anonymous-access",
      `GET /api answered 200 over plain HTTP without credentials: ${what}`,
      "critical",
    );
  }
  if (!answer.ok && answer.failure === "timeout")
    return unanswered(target, serviceName(target.port, "http"), "GET /api", answer);
  return fingerprintOther(target, budget);
};

/** kube-controller-manager (10257) / kube-scheduler (10259): `/healthz` answers anyone by design. */
export const probeControlPlaneComponent: ServiceProbe = async (target, budget) => {
  const service = serviceName(target.port, "control-plane");
  const answer = await httpRequest(
    target,
    { tls: true, method: "GET", path: "/healthz" },
    limits(budget, SMALL_READ_BYTES),
  );
  if (!answer.ok) {
    return spokeSomethingElse(answer)
      ? fingerprintOther(target, budget)
      : unanswered(target, service, "GET /healthz", answer);
  }
  const healthy = answer.status === 200 ? " (healthz is public by design; the port should not be)" : "";
  return result(
    target,
    service,
    "reachable",
    `GET /healthz answered ${statusText(answer.status)} over TLS: ${service} is reachable from here${healthy}`,
    "high",
  );
};

/** Docker Engine API (2375 plain, 2376 TLS): `GET /version` answering = root on the node. */
export const probeDocker: ServiceProbe = async (target, budget) => {
  const tls = target.port === 2376;
  const service = serviceName(target.port, "docker");
  const answer = await httpRequest(
    target,
    { tls, method: "GET", path: "/version" },
    limits(budget, SMALL_READ_BYTES),
  );
  if (!answer.ok) {
    if (answer.failure === "client-cert-required") {
      return result(
        target,
        service,
        "auth-required",
        "TLS handshake refused without a client certificate: Docker --tlsverify is on, but the API is reachable",
        "high",
      );
    }
    return spokeSomethingElse(answer)
      ? fingerprintOther(target, budget)
      : unanswered(target, service, "GET /version", answer);
  }
  const parsed = parseJsonObject(answer.body);
  const apiVersion = versionText(parsed?.ApiVersion);
  if (answer.status === 200 && apiVersion !== undefined) {
    const engine = versionText(parsed?.Version) ?? "unknown";
    return result(
      target,
      service,
      "anonymous-access",
      `Docker Engine ${engine} (API ${apiVersion}) answered GET /version without credentials: anyone can run privileged containers, root on the node`,
      "critical",
    );
  }
  if (isAuthRefusal(answer.status)) {
    return result(
      target,
      service,
      "auth-required",
      `GET /version answered ${statusText(answer.status)} without credentials: the Docker API is behind authentication, but reachable`,
      "high",
    );
  }
  return fingerprintOther(target, budget);
};

function describeCertificate(cert: CertificateSummary): string {
  const shown = cert.altNames.slice(0, 4).map((name) => remoteText(name, 60));
  const more = cert.altNames.length > shown.length ? ` +${cert.altNames.length - shown.length} more` : "";
  const sans = shown.length > 0 ? ` SANs ${shown.join(", ")}${more}` : "";
  const issuer = cert.selfSigned
    ? ", self-signed"
    : cert.issuer
      ? `, issuer CN=${remoteText(cert.issuer, 60)}`
      : "";
  return `TLS certificate CN=${remoteText(cert.subject, 60) || "(none)"}${sans}${issuer}`;
}

function describeHttp(answer: HttpAnswer, tls: boolean): string {
  const server = remoteText(answer.headers.server, 60);
  const title = htmlTitle(answer.body);
  return [
    `${tls ? "HTTPS" : "HTTP"} GET / answered ${answer.status}`,
    server ? `Server: ${server}` : undefined,
    title ? `title "${title}"` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(", ");
}

/**
 * What is on an open port nobody told us about (NodePorts especially): the first banner line for
 * server-speaks-first protocols (SSH), else the TLS certificate, else HTTP status, Server and title.
 */
export const fingerprint: ServiceProbe = (target, budget) =>
  fingerprintAs(target, budget, catalogEntryFor(target.port)?.service);

/** Fingerprint of a well-known port whose probe proved it runs something else: named by protocol. */
const fingerprintOther: ServiceProbe = (target, budget) => fingerprintAs(target, budget, undefined);

async function fingerprintAs(
  target: ProbeTarget,
  budget: ProbeBudget,
  known: string | undefined,
): Promise<ProbeResult> {
  const banner = await readBanner(target, Math.min(BANNER_WAIT_MS, budget.timeoutMs), limits(budget, 512));
  if (!banner.ok) return unanswered(target, known ?? "unknown", "connect", banner);
  if (banner.line !== undefined) {
    const line = remoteText(banner.line);
    const service = known ?? (line.startsWith("SSH-") ? "ssh" : "unknown");
    return result(target, service, "fingerprint", `banner "${line}"`);
  }
  const tls = await tlsCertificate(target, limits(budget, SMALL_READ_BYTES));
  if (!tls.ok && tls.failure === "timeout") {
    return result(
      target,
      known ?? "unknown",
      "no-answer",
      "open, but silent: no banner, TLS or HTTP answer in time",
    );
  }
  const http = await httpRequest(
    target,
    { tls: tls.ok, method: "GET", path: "/" },
    limits(budget, SMALL_READ_BYTES),
  );
  const parts = [tls.ok && tls.certificate ? describeCertificate(tls.certificate) : undefined];
  if (http.ok) parts.push(describeHttp(http, tls.ok));
  const evidence = parts.filter((part) => part !== undefined).join("; ");
  const protocol = http.ok ? (tls.ok ? "https" : "http") : tls.ok ? "tls" : "unknown";
  if (!http.ok && evidence === "") {
    return result(
      target,
      known ?? protocol,
      "no-answer",
      `open; no banner, TLS or HTTP answer (${http.detail})`,
    );
  }
  return result(target, known ?? protocol, "fingerprint", evidence);
}
