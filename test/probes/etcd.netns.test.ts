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
      "etcd 3.4.23 answered GET /version over plain HTTP; POST /v3/kv/range (count only, no values read) counted 2 keys",
    );
  });

  it("never reads a key or value into the evidence", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result?.evidence).not.toContain("s3cr3t");
    expect(result?.evidence).not.toContain("/registry");
  });

  it("reports the peer port answering without a client certificate as critical", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.peerPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({
      port: 2380,
      service: "etcd",
      verdict: "anonymous-access",
      severity: "critical",
    });
    expect(result?.evidence).toContain("etcd 3.4.23 answered GET /version over plain HTTP");
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

  it("reports the client port as auth-required, high, not critical", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({ port: 2379, service: "etcd", verdict: "auth-required", severity: "high" });
    expect(result?.evidence).toContain("refused without a client certificate");
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
      "etcd 3.4.23 answered GET /version over TLS without a client certificate; POST /v3/kv/range (count only, no values read) counted 1 keys",
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

  it("stays critical, and says user auth blocked the count", async () => {
    const [result] = await probeOpenPorts(ip, [etcd.clientPort], { timeoutMs: 1_000 });

    expect(result).toMatchObject({ port: 2379, service: "etcd", verdict: "reachable", severity: "critical" });
    expect(result?.evidence).toBe(
      "etcd 3.4.23 answered GET /version over plain HTTP; POST /v3/kv/range answered 400: etcd user auth is on (passwords are all that is left)",
    );
  });
});
