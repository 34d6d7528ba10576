import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";
import { type Listening, startFakeService, startRawService } from "./support/fake-services.ts";
import { makeSelfSigned } from "./support/tls-material.ts";

// A pod whose env holds a secret: evidence must count pods, never echo their content.
const SECRET = "hunter2-db-password";
const pod = (name: string) => ({
  metadata: { name, namespace: "default" },
  spec: { containers: [{ name: "app", image: "shop:1", env: [{ name: "DB_PASSWORD", value: SECRET }] }] },
});
const podList = (count: number) => ({
  kind: "PodList",
  apiVersion: "v1",
  metadata: {},
  items: Array.from({ length: count }, (_, i) => pod(`pod-${i}`)),
});
const kubeVersion = { major: "1", minor: "29", gitVersion: "v1.29.3", platform: "linux/amd64" };
const forbiddenStatus = {
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  message: 'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces"',
  reason: "Forbidden",
  code: 403,
};

describe.runIf(requirePrivateNetns())("probeOpenPorts against services on loopback", () => {
  let cert: { cert: string; key: string };
  let running: Listening[] = [];
  let ip: string;

  beforeAll(() => {
    cert = makeSelfSigned("node-1.kubelet.test", "127.0.0.1");
  });

  afterEach(async () => {
    await Promise.all(running.map((service) => service.close()));
    running = [];
  });

  async function serve(options: Parameters<typeof startFakeService>[0]): Promise<Listening> {
    const service = await startFakeService(options);
    running.push(service);
    return service;
  }

  async function probeOne(port: number) {
    const [result] = await probeOpenPorts(ip, [port], { timeoutMs: 1_000 });
    return result;
  }

  describe("kubelet", () => {
    it("reports an anonymous kubelet as critical with the pod count as evidence", async () => {
      ip = freshLoopbackAddress();
      await serve({ ip, port: 10250, tls: cert, routes: { "GET /pods": { status: 200, body: podList(3) } } });

      const result = await probeOne(10250);

      expect(result).toMatchObject({
        port: 10250,
        service: "kubelet",
        verdict: "anonymous-access",
        severity: "critical",
      });
      expect(result?.evidence).toContain("GET /pods answered 200 without credentials (3 pods)");
    });

    it("never puts pod content (env values) into the evidence", async () => {
      ip = freshLoopbackAddress();
      await serve({ ip, port: 10250, tls: cert, routes: { "GET /pods": { status: 200, body: podList(2) } } });

      const result = await probeOne(10250);

      expect(result?.evidence).not.toContain(SECRET);
      expect(result?.evidence).not.toContain("pod-0");
    });

    it("keeps a kubelet that answers 401 at high, as auth-required", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 10250,
        tls: cert,
        routes: { "GET /pods": { status: 401, body: "Unauthorized" } },
      });

      const result = await probeOne(10250);

      expect(result).toMatchObject({ service: "kubelet", verdict: "auth-required", severity: "high" });
      expect(result?.evidence).toContain("401 Unauthorized");
    });

    it("keeps a kubelet that answers 403 (webhook authorization) at high, as auth-required", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 10250,
        tls: cert,
        routes: {
          "GET /pods": { status: 403, body: "Forbidden (user=system:anonymous, verb=get, resource=nodes)" },
        },
      });

      const result = await probeOne(10250);

      expect(result).toMatchObject({ verdict: "auth-required", severity: "high" });
    });

    it("reports the read-only port 10255 answering GET /pods as critical", async () => {
      ip = freshLoopbackAddress();
      await serve({ ip, port: 10255, routes: { "GET /pods": { status: 200, body: podList(1) } } });

      const result = await probeOne(10255);

      expect(result).toMatchObject({
        service: "kubelet-readonly",
        verdict: "anonymous-access",
        severity: "critical",
      });
      expect(result?.evidence).toContain("(1 pod)");
    });

    it("counts no pods when the list is larger than the read cap, and says it stopped reading", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 10250,
        tls: cert,
        routes: { "GET /pods": { status: 200, body: podList(400) } },
      });

      const result = await probeOne(10250);

      expect(result).toMatchObject({ verdict: "anonymous-access", severity: "critical" });
      expect(result?.evidence).toContain("(a pod list longer than 16 KB, not read further)");
    });
  });

  describe("API server", () => {
    it("reports anonymous namespace listing as critical, with version and namespace count", async () => {
      ip = freshLoopbackAddress();
      const api = await serve({
        ip,
        port: 6443,
        tls: cert,
        routes: {
          "GET /version": { status: 200, body: kubeVersion },
          "GET /api/v1/namespaces": {
            status: 200,
            body: {
              kind: "NamespaceList",
              metadata: { remainingItemCount: 4 },
              items: [{ metadata: { name: "a" } }],
            },
          },
        },
      });

      const result = await probeOne(6443);

      expect(result).toMatchObject({
        service: "kube-apiserver",
        verdict: "anonymous-access",
        severity: "critical",
      });
      expect(result?.evidence).toContain("v1.29.3");
      expect(result?.evidence).toContain("5 namespaces");
      expect(api.requests).toEqual(["GET /version", "GET /api/v1/namespaces?limit=1"]);
    });

    it("reports an API server that refuses anonymous listing as auth-required, high, with its version", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 6443,
        tls: cert,
        routes: {
          "GET /version": { status: 200, body: kubeVersion },
          "GET /api/v1/namespaces": { status: 403, body: forbiddenStatus },
        },
      });

      const result = await probeOne(6443);

      expect(result).toMatchObject({ service: "kube-apiserver", verdict: "auth-required", severity: "high" });
      expect(result?.evidence).toBe(
        "Kubernetes API server v1.29.3 over TLS: GET /api/v1/namespaces answered 403 Forbidden to system:anonymous (anonymous auth is ON, RBAC refused this request); the API is reachable from here",
      );
    });

    it("recognises an API server with anonymous auth off from its 401 Status object", async () => {
      ip = freshLoopbackAddress();
      const unauthorized = { ...forbiddenStatus, reason: "Unauthorized", code: 401, message: "Unauthorized" };
      await serve({
        ip,
        port: 6443,
        tls: cert,
        routes: {
          "GET /version": { status: 401, body: unauthorized },
          "GET /api/v1/namespaces": { status: 401, body: unauthorized },
        },
      });

      const result = await probeOne(6443);

      expect(result).toMatchObject({ service: "kube-apiserver", verdict: "auth-required", severity: "high" });
    });

    it("rates a web site on 443 that is not an API server as what it is: an ingress web page, info", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 443,
        tls: makeSelfSigned("shop.example.test", ip),
        routes: {
          "GET /": {
            status: 200,
            body: "<html><head><title>Shop</title></head></html>",
            headers: { server: "nginx" },
          },
        },
      });

      const result = await probeOne(443);

      expect(result).toMatchObject({ service: "https", verdict: "fingerprint", severity: "info" });
      expect(result?.evidence).toMatch(
        new RegExp(
          `^TLS certificate CN=shop.example.test SANs ${ip.replace(/\./g, "\\.")}, shop.example.test, self-signed, HTTPS GET / answered 200, Server: nginx, title "Shop"; the catalogue expects https here`,
        ),
      );
    });

    it("reports the insecure port 8080 answering /api over HTTP as critical", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 8080,
        routes: { "GET /api": { status: 200, body: { kind: "APIVersions", versions: ["v1"] } } },
      });

      const result = await probeOne(8080);

      expect(result).toMatchObject({
        service: "kube-apiserver-insecure",
        verdict: "anonymous-access",
        severity: "critical",
      });
    });

    it("rates an ordinary web app on 8080 as a web app (medium), not as the insecure API (high)", async () => {
      ip = freshLoopbackAddress();
      await serve({ ip, port: 8080, routes: { "GET /": { status: 200, body: "<title>Grafana</title>" } } });

      const result = await probeOne(8080);

      expect(result).toMatchObject({ service: "http", verdict: "fingerprint", severity: "medium" });
      expect(result?.evidence).toContain(
        'title "Grafana"; the catalogue expects kube-apiserver-insecure here',
      );
    });
  });

  describe("control plane components", () => {
    it("reports a reachable kube-scheduler as high even when /healthz is 200", async () => {
      ip = freshLoopbackAddress();
      await serve({ ip, port: 10259, tls: cert, routes: { "GET /healthz": { status: 200, body: "ok" } } });

      const result = await probeOne(10259);

      expect(result).toMatchObject({ service: "kube-scheduler", verdict: "reachable", severity: "high" });
      expect(result?.evidence).toContain("GET /healthz answered 200");
    });
  });

  describe("Docker", () => {
    it("reports a Docker API answering /version on 2375 as critical, with engine and API versions", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 2375,
        routes: {
          "GET /version": { status: 200, body: { Version: "24.0.7", ApiVersion: "1.43", Os: "linux" } },
        },
      });

      const result = await probeOne(2375);

      expect(result).toMatchObject({ service: "docker", verdict: "anonymous-access", severity: "critical" });
      expect(result?.evidence).toContain("Docker Engine 24.0.7 (API 1.43)");
    });

    it("reports a Docker API behind authentication (401) as auth-required, high", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 2375,
        routes: {
          "GET /version": {
            status: 401,
            body: { message: "unauthorized" },
            headers: { "api-version": "1.43", server: "Docker/24.0.7 (linux)" },
          },
        },
      });

      const result = await probeOne(2375);

      expect(result).toMatchObject({ service: "docker", verdict: "auth-required", severity: "high" });
    });
  });

  describe("fingerprints", () => {
    it("reports the first banner line of an SSH server", async () => {
      ip = freshLoopbackAddress();
      running.push(await startRawService({ ip, port: 22, greeting: "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" }));

      const result = await probeOne(22);

      expect(result).toMatchObject({
        service: "ssh",
        verdict: "fingerprint",
        evidence: 'banner "SSH-2.0-OpenSSH_9.2p1 Debian-2"',
      });
    });

    it("names a forgotten NodePort's HTTP server, status and title, as http (a NodePort is a range, not a service)", async () => {
      ip = freshLoopbackAddress();
      await serve({
        ip,
        port: 31337,
        routes: {
          "GET /": {
            status: 200,
            body: "<html><title>debug console</title></html>",
            headers: { server: "Werkzeug/2.0" },
          },
        },
      });

      const result = await probeOne(31337);

      expect(result).toMatchObject({
        service: "http",
        verdict: "fingerprint",
        severity: "medium",
        evidence: 'HTTP GET / answered 200, Server: Werkzeug/2.0, title "debug console"',
      });
    });

    it("calls an HTTP server on a port outside the catalogue 'http'", async () => {
      ip = freshLoopbackAddress();
      await serve({ ip, port: 45000, routes: { "GET /": { status: 404, body: "nope" } } });

      const result = await probeOne(45000);

      expect(result).toMatchObject({
        service: "http",
        verdict: "fingerprint",
        evidence: "HTTP GET / answered 404",
      });
    });

    it("strips control characters from a hostile banner", async () => {
      ip = freshLoopbackAddress();
      running.push(
        await startRawService({ ip, port: 45001, greeting: "220 mail\u001b[31m ready\u0007\r\n" }),
      );

      const result = await probeOne(45001);

      expect(result?.evidence).toBe('banner "220 mail [31m ready"');
    });
  });

  it("probes an IPv6 address", async () => {
    ip = "::1";
    await serve({ ip, port: 45005, routes: { "GET /": { status: 200, body: "<title>v6</title>" } } });

    const result = await probeOne(45005);

    expect(result).toMatchObject({
      service: "http",
      verdict: "fingerprint",
      evidence: 'HTTP GET / answered 200, title "v6"',
    });
  });

  it("returns one result per distinct port, ascending", async () => {
    ip = freshLoopbackAddress();
    await serve({ ip, port: 45002, routes: {} });
    await serve({ ip, port: 45003, routes: {} });

    const results = await probeOpenPorts(ip, [45003, 45002, 45003], { timeoutMs: 1_000 });

    expect(results.map((r) => r.port)).toEqual([45002, 45003]);
  });

  it("reports a port that closed since the scan as an error instead of throwing", async () => {
    ip = freshLoopbackAddress();

    const [result] = await probeOpenPorts(ip, [45004], { timeoutMs: 1_000 });

    expect(result).toMatchObject({
      port: 45004,
      verdict: "error",
      evidence: "connect refused (ECONNREFUSED): closed since the scan",
    });
    expect(result?.severity).toBeUndefined();
  });
});
