import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeOpenPorts } from "../../lib/probes/probe-open-ports.ts";
import { freshLoopbackAddress, requirePrivateNetns } from "../support/netns.ts";
import { type RunningEtcd, startEtcd } from "./support/etcd.ts";
import { makeTlsMaterial, type TlsMaterial } from "./support/tls-material.ts";

const SECRET_VALUE = "postgres://admin:s3cr3t@db";

describe.runIf(requirePrivateNetns())("probing a real etcd without client-cert auth", () => {
  const ip = freshLoopbackAddress();
  let etcd: RunningEtcd;

  beforeAll(async () => {
    etcd = await startEtcd(ip);
    await etcd.put("/registry/secrets/default/db", SECRET_VALUE);
    await etcd.put("/registry/namespaces/default", "{}");
  });

  afterAll(async () => {
    await etcd?.stop();
  });

  it("reports the client port as critical, with the version and a key count as evidence", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({
      port: 2379,
      service: "etcd",
      verdict: "anonymous-access",
      severity: "critical",
    });
    expect(result?.evidence).toBe(
      "etcd 3.4.23 answered GET /version over plain HTTP; POST /v3/kv/range (count only, no values read) counted 2 keys: the whole cluster state, Secrets included, without credentials",
    );
  });

  it("never reads a key or value into the evidence", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result?.evidence).not.toContain("s3cr3t");
    expect(result?.evidence).not.toContain("/registry");
  });

  it("identifies the peer port by GET /members without a peer certificate, high", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.peerPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({
      port: 2380,
      service: "etcd-peer",
      verdict: "reachable",
      severity: "high",
    });
    expect(result?.evidence).toBe(
      "etcd 3.4.23 answered GET /version over plain HTTP on its peer port; GET /members answered 200 without a peer certificate (1 member): peer-client-cert-auth is off, raft and snapshots are open to anyone who can reach it",
    );
  });

  it("identifies the metrics port by its etcd metric families, medium", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.metricsPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({
      port: 2381,
      service: "etcd-metrics",
      verdict: "reachable",
      severity: "medium",
    });
    expect(result?.evidence).toMatch(
      /^GET \/metrics answered 200 over plain HTTP without credentials: Prometheus metrics \(etcd_server_\*; \d+ families in the first 32 KB\)$/,
    );
  });
});

describe.runIf(requirePrivateNetns())("probing a real etcd with TLS and client-cert auth", () => {
  const ip = freshLoopbackAddress();
  let tls: TlsMaterial;
  let etcd: RunningEtcd;

  beforeAll(async () => {
    tls = makeTlsMaterial(ip, "etcd-test");
    etcd = await startEtcd(ip, tls);
    await etcd.put("/registry/secrets/default/db", SECRET_VALUE);
  });

  afterAll(async () => {
    await etcd?.stop();
    tls?.remove();
  });

  it("reports the client port as mutual TLS, high, not critical: nothing behind it can be read", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({ port: 2379, service: "mtls", verdict: "auth-required", severity: "high" });
    expect(result?.evidence).toBe(
      "TLS handshake refused without a client certificate: client-certificate auth is on; what runs behind it cannot be identified without one (the catalogue expects etcd here)",
    );
  });

  it("reports the peer port with peer client-cert auth as auth-required, high", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.peerPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({ port: 2380, verdict: "auth-required", severity: "high" });
  });
});

describe.runIf(requirePrivateNetns())("probing a real etcd with TLS but no client-cert auth", () => {
  const ip = freshLoopbackAddress();
  let tls: TlsMaterial;
  let etcd: RunningEtcd;

  beforeAll(async () => {
    tls = makeTlsMaterial(ip, "etcd-test");
    etcd = await startEtcd(ip, tls, false);
    await etcd.put("/registry/secrets/default/db", SECRET_VALUE);
  });

  afterAll(async () => {
    await etcd?.stop();
    tls?.remove();
  });

  it("reports the client port as critical: TLS alone is not authentication", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({
      port: 2379,
      service: "etcd",
      verdict: "anonymous-access",
      severity: "critical",
    });
    expect(result?.evidence).toBe(
      "etcd 3.4.23 answered GET /version over TLS without a client certificate; POST /v3/kv/range (count only, no values read) counted 1 key: the whole cluster state, Secrets included, without credentials",
    );
  });
});

describe.runIf(requirePrivateNetns())("probing a real etcd with user auth but no client-cert auth", () => {
  const ip = freshLoopbackAddress();
  let etcd: RunningEtcd;

  beforeAll(async () => {
    etcd = await startEtcd(ip);
    await etcd.put("/registry/secrets/default/db", SECRET_VALUE);
    await etcd.enableUserAuth();
  });

  afterAll(async () => {
    await etcd?.stop();
  });

  it("is high, not critical: no data access was proven, and says user auth blocked the count", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({ port: 2379, service: "etcd", verdict: "auth-required", severity: "high" });
    expect(result?.evidence).toBe(
      "etcd 3.4.23 answered GET /version over plain HTTP; POST /v3/kv/range answered 400: no client-certificate auth, etcd user auth refused the read (passwords are all that is left)",
    );
  });
});
