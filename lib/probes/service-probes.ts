import type { CatalogEntry } from "../catalog/kubernetes-ports.ts";
import { ordinaryServiceSeverity } from "../catalog/services.ts";
import { atLeast, type Severity } from "../catalog/severity.ts";
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
import { countText, htmlTitle, listSize, parseJsonObject, remoteText, versionText } from "./evidence.ts";
import type { ProbeResult } from "./types.ts";

/** Time one port's probe may take: each step's timeout, and an end no step may pass. */
export interface ProbeBudget {
  readonly timeoutMs: number;
  /** Epoch ms. */
  readonly until: number;
}

/** Small answers (`/version`, `/healthz`, titles, banners). */
const SMALL_READ_BYTES = 4 * 1024;
/** Lists (pods): enough to recognise the kind and count a few items, never a whole node's pods. */
const LIST_READ_BYTES = 16 * 1024;
/** Metrics: Go runtime families come first; 32 KB reaches the exporter's own names. */
const METRICS_READ_BYTES = 32 * 1024;
/** One request (connect, answer, body) ends within this many step timeouts. */
const REQUEST_BUDGET_STEPS = 2;
/** How long a server that rejected TLS and HTTP gets to send a banner (SSH speaks first). */
const BANNER_WAIT_MS = 800;

/** etcd v3 range over every key ("\0" to "\0"), counting only: no value and no key leaves etcd. */
export const ETCD_COUNT_ALL_KEYS = { key: "AA==", range_end: "AA==", count_only: true } as const;

/** What a probe concluded, before the port and the expected entry are attached. */
type Identification = Omit<ProbeResult, "port" | "expected">;

const limits = (budget: ProbeBudget, maxBytes: number): ExchangeLimits => ({ ...budget, maxBytes });

const identified = (
  service: string,
  verdict: ProbeResult["verdict"],
  severity: Severity,
  evidence: string,
): Identification => ({ service, verdict, severity, evidence });

/** Nothing could tell what runs there: no severity, so the last proven verdict or the policy applies. */
const inconclusive = (evidence: string, verdict: ProbeResult["verdict"] = "no-answer"): Identification => ({
  service: "unknown",
  verdict,
  evidence,
});

const hasKind = (body: string, kind: string): boolean => new RegExp(`"kind"\\s*:\\s*"${kind}"`).test(body);

const statusText = (status: number): string =>
  status === 401 ? "401 Unauthorized" : status === 403 ? "403 Forbidden" : String(status);

const overWhat = (tls: boolean): string => (tls ? "over TLS" : "over plain HTTP");

/**
 * One port's HTTP conversation over the transport the handshake chose. Answers are memoised per
 * request, so signatures that read the same path (`/version`: Docker, etcd, API server) cost one
 * request. After a timeout or reset the service is treated as unable to answer this round.
 */
class Conversation {
  private readonly answers = new Map<string, Promise<HttpAnswer | Failed>>();
  /** The first failure that means "could not answer" (timeout, reset), with what was asked. */
  stalled?: string;
  clientCertRequired = false;
  notHttp = false;
  /** An answer was cut by time, not by size (a trickling server): skip to the generic answer. */
  slow = false;
  /** Requests that got an HTTP answer, for the evidence of what was ruled out. */
  readonly asked: string[] = [];

  constructor(
    readonly target: ProbeTarget,
    readonly budget: ProbeBudget,
    readonly tls: boolean,
  ) {}

  get(path: string, maxBytes = SMALL_READ_BYTES): Promise<HttpAnswer | Failed> {
    return this.exchange(`GET ${path}`, maxBytes, (bounds) =>
      httpRequest(this.target, { tls: this.tls, method: "GET", path }, bounds),
    );
  }

  post(path: string, json: unknown): Promise<HttpAnswer | Failed> {
    return this.exchange(`POST ${path}`, SMALL_READ_BYTES, (bounds) =>
      httpRequest(this.target, { tls: this.tls, method: "POST", path, json }, bounds),
    );
  }

  private exchange(
    what: string,
    maxBytes: number,
    send: (bounds: ExchangeLimits) => Promise<HttpAnswer | Failed>,
  ): Promise<HttpAnswer | Failed> {
    if (this.stalled || this.notHttp || this.clientCertRequired)
      return Promise.resolve({ ok: false, failure: "error", detail: "not asked" });
    let answer = this.answers.get(what);
    if (!answer) {
      // One request may not eat the whole port's budget (a server trickling bytes forever).
      const until = Math.min(this.budget.until, Date.now() + REQUEST_BUDGET_STEPS * this.budget.timeoutMs);
      answer = send({ timeoutMs: this.budget.timeoutMs, until, maxBytes }).then((outcome) => {
        if (outcome.ok && outcome.truncated && Buffer.byteLength(outcome.body) < maxBytes) this.slow = true;
        if (outcome.ok) this.asked.push(`${what} ${outcome.status}`);
        else if (outcome.failure === "client-cert-required") this.clientCertRequired = true;
        else if (outcome.failure === "protocol") this.notHttp = true;
        else if (outcome.failure !== "refused") this.stalled ??= `${what}: ${outcome.detail}`;
        return outcome;
      });
      this.answers.set(what, answer);
    }
    return answer;
  }
}

interface Context {
  readonly expected: CatalogEntry | undefined;
  readonly certificate: CertificateSummary | undefined;
}

/** A service signature: identifies its service from the conversation, or returns undefined. */
interface Signature {
  /** Catalogue services whose ports try this signature first (an ordering hint, never a verdict). */
  readonly expectedOn: readonly string[];
  readonly identify: (talk: Conversation, context: Context) => Promise<Identification | undefined>;
}

/** Docker's own headers, or its error JSON (`{"message": …}` and nothing else) refusing /version. */
const isDockerAnswer = (answer: HttpAnswer): boolean => {
  if (
    answer.headers["api-version"] !== undefined ||
    answer.headers["docker-experimental"] !== undefined ||
    /^Docker\//.test(String(answer.headers.server ?? ""))
  )
    return true;
  const error = parseJsonObject(answer.body);
  return (
    (answer.status === 401 || answer.status === 403) &&
    error !== undefined &&
    Object.keys(error).length === 1 &&
    typeof error.message === "string"
  );
};

/** Docker Engine API, on any port: `GET /version` with ApiVersion = root on the node. */
const docker: Signature = {
  expectedOn: ["docker", "docker-tls"],
  identify: async (talk) => {
    const answer = await talk.get("/version");
    if (!answer.ok) return undefined;
    const parsed = parseJsonObject(answer.body);
    const apiVersion = versionText(parsed?.ApiVersion);
    const how = talk.tls ? "over TLS without a client certificate" : "over plain HTTP";
    if (answer.status === 200 && apiVersion !== undefined && versionText(parsed?.Version) !== undefined) {
      return identified(
        "docker",
        "anonymous-access",
        "critical",
        `Docker Engine ${versionText(parsed?.Version)} (API ${apiVersion}) answered GET /version ${how} without credentials: anyone can run privileged containers, root on the node`,
      );
    }
    if (!isDockerAnswer(answer)) return undefined;
    const api = versionText(answer.headers["api-version"]);
    return identified(
      "docker",
      answer.status === 401 || answer.status === 403 ? "auth-required" : "reachable",
      "high",
      `Docker Engine API${api ? ` ${api}` : ""} (its headers or error JSON) answered GET /version ${statusText(answer.status)} ${overWhat(talk.tls)}: authorization refuses, but the API is reachable`,
    );
  },
};

/** etcd's answer when role-based auth is on and no token was sent (gRPC InvalidArgument → 400). */
const ETCD_USER_AUTH_ERROR = /user name is empty|invalid auth token|permission denied/;

/** etcd client port (2379: count-only range) or peer port (2380: `/members`), on any port. */
const etcd: Signature = {
  expectedOn: ["etcd"],
  identify: async (talk) => {
    const answer = await talk.get("/version");
    if (!answer.ok || answer.status !== 200) return undefined;
    const version = versionText(parseJsonObject(answer.body)?.etcdserver);
    if (version === undefined) return undefined;
    const how = talk.tls ? "over TLS without a client certificate" : "over plain HTTP";
    const named = `etcd ${version} answered GET /version ${how}`;
    const range = await talk.post("/v3/kv/range", ETCD_COUNT_ALL_KEYS);
    if (range.ok && range.status === 200) {
      const count = countText(parseJsonObject(range.body)?.count ?? "0", "key");
      return identified(
        "etcd",
        "anonymous-access",
        "critical",
        `${named}; POST /v3/kv/range (count only, no values read) counted ${count}: the whole cluster state, Secrets included, without credentials`,
      );
    }
    if (range.ok && (ETCD_USER_AUTH_ERROR.test(range.body) || range.status === 401)) {
      return identified(
        "etcd",
        "auth-required",
        "high",
        `${named}; POST /v3/kv/range answered ${range.status}: no client-certificate auth, etcd user auth refused the read (passwords are all that is left)`,
      );
    }
    if (range.ok && range.status === 404) {
      // The peer listener serves /version and /members but not the v3 gateway.
      const members = await talk.get("/members");
      if (members.ok && members.status === 200 && members.body.trimStart().startsWith("[")) {
        let count = "a member list";
        try {
          const list: unknown = JSON.parse(members.body);
          if (Array.isArray(list)) count = countText(list.length, "member");
        } catch {
          // Cut at the byte cap: the list exists, its length is unknown.
        }
        return identified(
          "etcd-peer",
          "reachable",
          "high",
          `${named} on its peer port; GET /members answered 200 without a peer certificate (${count}): peer-client-cert-auth is off, raft and snapshots are open to anyone who can reach it`,
        );
      }
    }
    if (talk.stalled) return undefined;
    return identified(
      "etcd",
      "reachable",
      "high",
      `${named}; POST /v3/kv/range ${range.ok ? `answered ${range.status}` : `failed (${range.detail})`}: reachable without a client certificate`,
    );
  },
};

/** Kubernetes API server: `/version` gitVersion (or a Status refusal), then an anonymous list. */
const apiServer: Signature = {
  expectedOn: ["kube-apiserver", "https", "https-alt"],
  identify: async (talk) => {
    const version = await talk.get("/version");
    if (!version.ok) return undefined;
    const gitVersion = versionText(parseJsonObject(version.body)?.gitVersion);
    const refused = (version.status === 401 || version.status === 403) && hasKind(version.body, "Status");
    if (gitVersion === undefined && !refused) return undefined;
    // limit=1 keeps the answer tiny; remainingItemCount still tells how many there are.
    const list = await talk.get("/api/v1/namespaces?limit=1", LIST_READ_BYTES);
    if (!list.ok || list.status === 404) return undefined; // /version alone: a component, not the API
    const named = `Kubernetes API server${gitVersion ? ` ${gitVersion}` : ""} ${overWhat(talk.tls)}`;
    if (list.status === 200 && hasKind(list.body, "NamespaceList")) {
      return identified(
        "kube-apiserver",
        "anonymous-access",
        "critical",
        `${named}: anonymous GET /api/v1/namespaces answered 200 (${namespaceCount(list)}): the API serves anonymous users`,
      );
    }
    if (list.status === 401) {
      return identified(
        "kube-apiserver",
        "auth-required",
        "high",
        `${named}: anonymous GET /api/v1/namespaces answered 401 Unauthorized (anonymous auth is off); the API is reachable from here`,
      );
    }
    if (list.status === 403) {
      const anonymous = /system:anonymous/.test(list.body);
      return identified(
        "kube-apiserver",
        "auth-required",
        "high",
        `${named}: GET /api/v1/namespaces answered 403 Forbidden${anonymous ? " to system:anonymous (anonymous auth is ON, RBAC refused this request)" : ""}; the API is reachable from here`,
      );
    }
    return identified(
      "kube-apiserver",
      "reachable",
      "high",
      `${named}: anonymous GET /api/v1/namespaces answered ${list.status}; the API is reachable from here`,
    );
  },
};

function namespaceCount(list: HttpAnswer): string {
  const parsed = list.truncated ? undefined : parseJsonObject(list.body);
  const items = parsed?.items;
  const metadata = parsed?.metadata as { remainingItemCount?: unknown } | undefined;
  if (!Array.isArray(items)) return "a namespace list";
  const remaining = typeof metadata?.remainingItemCount === "number" ? metadata.remainingItemCount : 0;
  return countText(items.length + remaining, "namespace");
}

/** Kubelet `/pods`: 200 PodList (TLS: the API, plain: the read-only port), 401, 403 to system:anonymous. */
const kubelet: Signature = {
  expectedOn: ["kubelet", "kubelet-readonly"],
  identify: async (talk) => {
    const answer = await talk.get("/pods", LIST_READ_BYTES);
    if (!answer.ok) return undefined;
    if (answer.status === 200 && hasKind(answer.body, "PodList")) {
      const pods = listSize(answer.body, answer.truncated, "pod", LIST_READ_BYTES);
      return talk.tls
        ? identified(
            "kubelet",
            "anonymous-access",
            "critical",
            `GET /pods answered 200 without credentials (${pods}): anonymous kubelet, exec into any pod on the node`,
          )
        : identified(
            "kubelet-readonly",
            "anonymous-access",
            "critical",
            `GET /pods answered 200 over plain HTTP without credentials (${pods}): kubelet read-only port leaks pod specs`,
          );
    }
    if (!talk.tls) return undefined;
    if (answer.status === 401 && /^Unauthorized\s*$/.test(answer.body)) {
      return identified(
        "kubelet",
        "auth-required",
        "high",
        "GET /pods answered 401 Unauthorized: kubelet anonymous auth is off (requests need a credential); the kubelet API is reachable from here",
      );
    }
    if (answer.status === 403 && /Forbidden \(user=system:anonymous/.test(answer.body)) {
      return identified(
        "kubelet",
        "auth-required",
        "high",
        "GET /pods answered 403 Forbidden (user=system:anonymous): kubelet anonymous auth is ON and only authorization (Webhook) refused; one RBAC binding away from exec into every pod",
      );
    }
    return undefined;
  },
};

/** API server insecure port or a `kubectl proxy`: plain HTTP `/api` answering APIVersions = admin. */
const insecureApi: Signature = {
  expectedOn: ["kube-apiserver-insecure", "kubectl-proxy"],
  identify: async (talk, { expected }) => {
    if (talk.tls) return undefined;
    const answer = await talk.get("/api");
    if (!answer.ok || answer.status !== 200 || !hasKind(answer.body, "APIVersions")) return undefined;
    // The two cannot be told apart by protocol; the port number only picks the more likely name.
    const proxy = expected?.service === "kubectl-proxy";
    return identified(
      proxy ? "kubectl-proxy" : "kube-apiserver-insecure",
      "anonymous-access",
      "critical",
      `GET /api answered 200 (APIVersions) over plain HTTP without credentials: ${proxy ? "a kubectl proxy forwards anyone's requests with its user's credentials" : "the Kubernetes API without authentication (insecure port or kubectl proxy)"}`,
    );
  },
};

/** Which metric family names which exporter. */
const METRIC_FAMILIES: readonly { pattern: RegExp; service: string; severity: Severity; marker: string }[] = [
  {
    pattern: /^node_exporter_build_info\b|^node_uname_info\b|^node_cpu_seconds_total\b/m,
    service: "node-exporter",
    severity: "medium",
    marker: "node_exporter metrics",
  },
  {
    pattern: /^etcd_server_|^etcd_cluster_version\b/m,
    service: "etcd-metrics",
    severity: "medium",
    marker: "etcd_server_*",
  },
  { pattern: /^kubeproxy_/m, service: "kube-proxy-metrics", severity: "medium", marker: "kubeproxy_*" },
  {
    pattern: /^container_cpu_|^cadvisor_version_info\b/m,
    service: "cadvisor",
    severity: "high",
    marker: "container_* (cAdvisor)",
  },
  { pattern: /^felix_/m, service: "calico-felix", severity: "medium", marker: "felix_*" },
];

/** Prometheus `/metrics` without credentials: named by its metric families, not by the port. */
const metrics: Signature = {
  expectedOn: ["node-exporter", "etcd-metrics", "kube-proxy-metrics", "cadvisor", "calico-felix"],
  identify: async (talk) => {
    const answer = await talk.get("/metrics", METRICS_READ_BYTES);
    if (!answer.ok || answer.status !== 200 || !/^# (TYPE|HELP) \w+/m.test(answer.body)) return undefined;
    const families = new Set([...answer.body.matchAll(/^# TYPE (\w+)/gm)].map((m) => m[1])).size;
    const family = METRIC_FAMILIES.find((f) => f.pattern.test(answer.body));
    const build = /^node_exporter_build_info\{[^}]*version="([\w.+~-]{1,40})"/m.exec(answer.body)?.[1];
    const what = family ? `${family.marker}${build ? ` version ${build}` : ""}` : "no exporter we know";
    return identified(
      family?.service ?? "prometheus-metrics",
      "reachable",
      family?.severity ?? "medium",
      `GET /metrics answered 200 ${overWhat(talk.tls)} without credentials: Prometheus metrics (${what}; ${families} families in the first ${METRICS_READ_BYTES / 1024} KB)`,
    );
  },
};

const COMPONENTS = new Set(["kube-controller-manager", "kube-scheduler"]);
const HEALTH_ENDPOINTS = new Set(["kubelet-healthz", "kube-proxy-health"]);

/** Controller-manager / scheduler secure ports (`/healthz` over TLS, certificate CN), health endpoints. */
const component: Signature = {
  expectedOn: [...COMPONENTS, ...HEALTH_ENDPOINTS],
  identify: async (talk, { expected, certificate }) => {
    const answer = await talk.get("/healthz");
    if (!answer.ok || answer.status !== 200) return undefined;
    const ok = /^ok\s*$/.test(answer.body);
    const proxyHealth = /"lastUpdated"/.test(answer.body);
    if (!ok && !proxyHealth) return undefined;
    const cn = certificate?.subject ?? "";
    if (talk.tls) {
      const byCert = [...COMPONENTS].find((name) => cn.includes(name));
      const service =
        byCert ?? (expected && COMPONENTS.has(expected.service) ? expected.service : "kubernetes-component");
      return identified(
        service,
        "reachable",
        "high",
        `GET /healthz answered 200 "ok" over TLS (certificate CN=${remoteText(cn, 60) || "(none)"}): a Kubernetes component's secure port is reachable from here (healthz is public by design; the port should not be)`,
      );
    }
    const service = proxyHealth
      ? "kube-proxy-health"
      : expected && HEALTH_ENDPOINTS.has(expected.service)
        ? expected.service
        : "healthz";
    return identified(
      service,
      "reachable",
      "low",
      `GET /healthz answered 200 over plain HTTP: a health endpoint, it tells little beyond liveness`,
    );
  },
};

/** Checked in this order unless the port's catalogue entry moves one to the front. */
const SIGNATURES: readonly Signature[] = [docker, etcd, apiServer, kubelet, insecureApi, metrics, component];

function signaturesFor(expected: CatalogEntry | undefined): readonly Signature[] {
  const first = expected ? SIGNATURES.find((s) => s.expectedOn.includes(expected.service)) : undefined;
  return first ? [first, ...SIGNATURES.filter((s) => s !== first)] : SIGNATURES;
}

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

/** `; expected kubelet-readonly here, but GET /pods 404, GET /version 404` when the catalogue expected more. */
function notExpected(expected: CatalogEntry | undefined, talk: Conversation | undefined): string {
  // A range (NodePorts) names a purpose, not a service that could be missing.
  if (!expected || expected.from !== expected.to) return "";
  const asked = talk && talk.asked.length > 0 ? `, but ${talk.asked.slice(0, 3).join(", ")}` : "";
  return `; the catalogue expects ${expected.service} here${asked}`;
}

/** Generic HTTP(S): status, Server and title, rated as what it is, not as the port's catalogue entry. */
async function webApplication(talk: Conversation, context: Context): Promise<Identification | undefined> {
  const answer = await talk.get("/");
  if (!answer.ok) return undefined;
  const server = remoteText(answer.headers.server, 60);
  const title = htmlTitle(answer.body);
  const parts = [
    context.certificate ? describeCertificate(context.certificate) : undefined,
    `${talk.tls ? "HTTPS" : "HTTP"} GET / answered ${answer.status}`,
    server ? `Server: ${server}` : undefined,
    title ? `title "${title}"` : undefined,
  ].filter((part) => part !== undefined);
  return identified(
    talk.tls ? "https" : "http",
    "fingerprint",
    ordinaryServiceSeverity(context.expected),
    `${parts.join(", ")}${notExpected(context.expected, talk)}`,
  );
}

/** A server that speaks first (SSH) or another non-HTTP protocol: its first line names it. */
async function bannerService(
  target: ProbeTarget,
  budget: ProbeBudget,
  expected: CatalogEntry | undefined,
): Promise<Identification> {
  const banner = await readBanner(target, Math.min(BANNER_WAIT_MS, budget.timeoutMs), limits(budget, 512));
  if (!banner.ok || banner.line === undefined) {
    return inconclusive(
      `open, answered neither TLS nor HTTP, and sent no banner${banner.ok ? "" : ` (${banner.detail})`}`,
    );
  }
  const line = remoteText(banner.line);
  return identified(
    line.startsWith("SSH-") ? "ssh" : "banner",
    "fingerprint",
    ordinaryServiceSeverity(expected),
    `banner "${line}"${line.startsWith("SSH-") ? "" : notExpected(expected, undefined)}`,
  );
}

type Transport =
  | { kind: "tls"; certificate?: CertificateSummary }
  | { kind: "mtls" }
  | { kind: "plain" }
  | { kind: "closed"; detail: string };

/**
 * TLS or plain, decided by the handshake and never by the port number: a completed handshake is
 * TLS; a refusal without a client certificate is mutual TLS; anything that is not TLS (an HTTP 400
 * to our ClientHello, a banner, a reset, silence) gets a plain-text try next.
 */
async function detectTransport(target: ProbeTarget, budget: ProbeBudget): Promise<Transport> {
  const hello = await tlsCertificate(target, limits(budget, SMALL_READ_BYTES));
  if (hello.ok) return { kind: "tls", ...(hello.certificate ? { certificate: hello.certificate } : {}) };
  if (hello.failure === "client-cert-required") return { kind: "mtls" };
  if (hello.failure === "refused") return { kind: "closed", detail: hello.detail };
  return { kind: "plain" };
}

function mutualTls(expected: CatalogEntry | undefined): Identification {
  // Authentication is proven; the service behind it is not: a sensitive expectation stays high.
  const severity: Severity = expected && atLeast(expected.severity, "high") ? "high" : "medium";
  return identified(
    "mtls",
    "auth-required",
    severity,
    `TLS handshake refused without a client certificate: client-certificate auth is on; what runs behind it cannot be identified without one${expected ? ` (the catalogue expects ${expected.service} here)` : ""}`,
  );
}

/**
 * The one probe skeleton for every open port: transport from the handshake, then each service
 * signature (the catalogue's expected one first), then generic HTTP, TLS or banner. Never throws.
 */
export async function identifyService(
  target: ProbeTarget,
  budget: ProbeBudget,
  expected: CatalogEntry | undefined,
): Promise<Identification> {
  const transport = await detectTransport(target, budget);
  if (transport.kind === "closed")
    return inconclusive(`connect refused (${transport.detail}): closed since the scan`, "error");
  if (transport.kind === "mtls") return mutualTls(expected);
  const context: Context = {
    expected,
    certificate: transport.kind === "tls" ? transport.certificate : undefined,
  };
  const talk = new Conversation(target, budget, transport.kind === "tls");
  for (const signature of signaturesFor(expected)) {
    const found = await signature.identify(talk, context);
    if (found) return found;
    if (talk.stalled || talk.notHttp || talk.clientCertRequired || talk.slow) break;
  }
  if (talk.clientCertRequired) return mutualTls(expected);
  if (!talk.stalled && !talk.notHttp) {
    const web = await webApplication(talk, context);
    if (web) return web;
  }
  if (talk.stalled && !talk.notHttp) {
    return inconclusive(`could not tell what answers: ${talk.stalled}`);
  }
  if (transport.kind === "tls") {
    return identified(
      "tls",
      "fingerprint",
      ordinaryServiceSeverity(expected),
      `${context.certificate ? describeCertificate(context.certificate) : "TLS without a certificate"}; no HTTP answer${notExpected(expected, undefined)}`,
    );
  }
  return bannerService(target, budget, expected);
}
