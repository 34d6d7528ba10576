import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";
import { dockerdUnavailable, type RunningDockerd, startDockerd } from "./support/dockerd.ts";
import { type Listening, type Route, startFakeService } from "./support/fake-services.ts";
import { makeSelfSigned, makeTlsMaterial, type TlsMaterial } from "./support/tls-material.ts";

/**
 * What answers decides the verdict, not the port number: real dockerd (Debian docker.io) served
 * the way nodes drift (plain HTTP on the TLS port, --tlsverify on the plain port, a port of its
 * own), HTTP servers that answer like kubelets, and ordinary web apps squatting on catalogue ports.
 */

const netnsOk = requirePrivateNetns();
const dockerSkip = dockerdUnavailable();
if (netnsOk && dockerSkip) console.warn(dockerSkip);

async function probeOne(ip: string, port: number) {
  const [result] = await probeOpenPorts(ip, [port], { timeoutMs: 2_000 });
  return result;
}

describe.runIf(netnsOk && !dockerSkip)("real dockerd, plain HTTP on 2376 (the TLS port) and on 9100", () => {
  const ip = freshLoopbackAddress();
  let dockerd: RunningDockerd;

  beforeAll(async () => {
    dockerd = await startDockerd(ip, [2376, 9100]);
  }, 60_000);

  afterAll(async () => {
    await dockerd?.stop();
  }, 30_000);

  it("identifies Docker on 2376 over plain HTTP as docker, critical, with engine and API versions", async () => {
    const result = await probeOne(ip, 2376);

    expect(result).toMatchObject({ service: "docker", verdict: "anonymous-access", severity: "critical" });
    expect(result?.expected?.service).toBe("docker-tls");
    expect(result?.evidence).toMatch(
      /^Docker Engine 20\.10\.\S+ \(API 1\.\d+\) answered GET \/version over plain HTTP without credentials: anyone can run privileged containers, root on the node$/,
    );
  });

  it("identifies Docker on 9100 as docker, not as the node-exporter the catalogue expects there", async () => {
    const result = await probeOne(ip, 9100);

    expect(result).toMatchObject({ service: "docker", verdict: "anonymous-access", severity: "critical" });
    expect(result?.expected?.service).toBe("node-exporter");
  });
});

describe.runIf(netnsOk && !dockerSkip)("real dockerd with --tlsverify on 2375 (the plain port)", () => {
  const ip = freshLoopbackAddress();
  let dockerd: RunningDockerd;
  let tls: TlsMaterial;

  beforeAll(async () => {
    tls = makeTlsMaterial(ip, "docker-node-1");
    dockerd = await startDockerd(ip, [2375], tls);
  }, 60_000);

  afterAll(async () => {
    await dockerd?.stop();
    tls?.remove();
  }, 30_000);

  it("finds TLS by the handshake and reports client-certificate auth, high, not critical", async () => {
    const result = await probeOne(ip, 2375);

    expect(result).toMatchObject({ service: "mtls", verdict: "auth-required", severity: "high" });
    expect(result?.evidence).toBe(
      "TLS handshake refused without a client certificate: client-certificate auth is on; what runs behind it cannot be identified without one (the catalogue expects docker here)",
    );
  });
});

const pod = (name: string) => ({ metadata: { name, namespace: "default" }, spec: { containers: [] } });
const podList = { kind: "PodList", apiVersion: "v1", metadata: {}, items: [pod("a"), pod("b")] };
// What a kubelet sends (http.Error: text/plain, a trailing newline).
const kubelet401: Route = { status: 401, body: "Unauthorized\n", headers: { "content-type": "text/plain" } };
const kubelet403: Route = {
  status: 403,
  body: "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)\n",
  headers: { "content-type": "text/plain; charset=utf-8" },
};
const nginxWelcome: Route = {
  status: 200,
  body: "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body></body></html>",
  headers: { server: "nginx/1.22.1" },
};
const nodeExporterMetrics = [
  "# HELP go_goroutines Number of goroutines that currently exist.",
  "# TYPE go_goroutines gauge",
  "go_goroutines 8",
  "# HELP node_exporter_build_info A metric with a constant '1' value labeled by version.",
  "# TYPE node_exporter_build_info gauge",
  'node_exporter_build_info{branch="",goversion="go1.19.8",revision="",version="1.5.0"} 1',
  "# HELP node_uname_info Labeled system information as provided by the uname system call.",
  "# TYPE node_uname_info gauge",
  'node_uname_info{machine="x86_64",nodename="node-1",release="6.1.0"} 1',
  "",
].join("\n");

describe.runIf(netnsOk)("kubelets and web apps imitated over HTTP(S)", () => {
  let cert: { cert: string; key: string };
  let running: Listening[] = [];

  beforeAll(() => {
    cert = makeSelfSigned("node-1@1732000000", "127.0.0.1");
  });

  afterEach(async () => {
    await Promise.all(running.map((service) => service.close()));
    running = [];
  });

  async function serve(ip: string, port: number, routes: Record<string, Route>, tls = false): Promise<void> {
    running.push(await startFakeService({ ip, port, routes, ...(tls ? { tls: cert } : {}) }));
  }

  it("kubelet 401: anonymous auth is off, high", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 10250, { "GET /pods": kubelet401 }, true);

    const result = await probeOne(ip, 10250);

    expect(result).toMatchObject({ service: "kubelet", verdict: "auth-required", severity: "high" });
    expect(result?.evidence).toBe(
      "GET /pods answered 401 Unauthorized: kubelet anonymous auth is off (requests need a credential); the kubelet API is reachable from here",
    );
  });

  it("kubelet 403 to system:anonymous: anonymous auth is ON and only authorization refused, high", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 10250, { "GET /pods": kubelet403 }, true);

    const result = await probeOne(ip, 10250);

    expect(result).toMatchObject({ service: "kubelet", verdict: "auth-required", severity: "high" });
    expect(result?.evidence).toContain("anonymous auth is ON and only authorization (Webhook) refused");
    expect(result?.evidence).not.toContain("authentication is on");
  });

  it("kubelet 200 PodList on a NodePort is a kubelet, critical, with the pod count", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 30443, { "GET /pods": { status: 200, body: podList } }, true);

    const result = await probeOne(ip, 30443);

    expect(result).toMatchObject({ service: "kubelet", verdict: "anonymous-access", severity: "critical" });
    expect(result?.evidence).toBe(
      "GET /pods answered 200 without credentials (2 pods): anonymous kubelet, exec into any pod on the node",
    );
  });

  it("a read-only kubelet (plain 200 PodList) on 10255 is critical", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 10255, { "GET /pods": { status: 200, body: podList } });

    const result = await probeOne(ip, 10255);

    expect(result).toMatchObject({ service: "kubelet-readonly", severity: "critical" });
  });

  it.each([
    [10255, "kubelet-readonly"],
    [9100, "node-exporter"],
    [2376, "docker-tls"],
    [10250, "kubelet"],
  ])("nginx's welcome page on %i is http, medium, and says %s was expected", async (port, expected) => {
    const ip = freshLoopbackAddress();
    await serve(ip, port, { "GET /": nginxWelcome });

    const result = await probeOne(ip, port);

    expect(result).toMatchObject({ service: "http", verdict: "fingerprint", severity: "medium" });
    expect(result?.evidence).toMatch(
      new RegExp(
        `^HTTP GET / answered 200, Server: nginx/1\\.22\\.1, title "Welcome to nginx!"; the catalogue expects ${expected} here, but GET /\\S+ 404`,
      ),
    );
  });

  it("node-exporter metrics on 9100 are node-exporter, medium, with its version", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 9100, { "GET /metrics": { status: 200, body: nodeExporterMetrics } });

    const result = await probeOne(ip, 9100);

    expect(result).toMatchObject({ service: "node-exporter", verdict: "reachable", severity: "medium" });
    expect(result?.evidence).toBe(
      "GET /metrics answered 200 over plain HTTP without credentials: Prometheus metrics (node_exporter metrics version 1.5.0; 3 families in the first 32 KB)",
    );
  });

  it("node-exporter on a port outside the catalogue is still node-exporter", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 19100, { "GET /metrics": { status: 200, body: nodeExporterMetrics } });

    const result = await probeOne(ip, 19100);

    expect(result).toMatchObject({ service: "node-exporter", severity: "medium" });
    expect(result?.expected).toBeUndefined();
  });

  it("an HTTPS web app on the kube-apiserver port is https, medium, with its certificate", async () => {
    const ip = freshLoopbackAddress();
    await serve(ip, 6443, { "GET /": { status: 200, body: "<title>Argo CD</title>" } }, true);

    const result = await probeOne(ip, 6443);

    expect(result).toMatchObject({ service: "https", severity: "medium" });
    expect(result?.evidence).toMatch(
      /^TLS certificate CN=node-1@1732000000 .*HTTPS GET \/ answered 200, title "Argo CD"; the catalogue expects kube-apiserver here/,
    );
  });
});
