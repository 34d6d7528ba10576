import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TlsMaterial } from "./tls-material.ts";

export const ETCD_BINARY = "/usr/bin/etcd";

export interface RunningEtcd {
  readonly clientPort: number;
  readonly peerPort: number;
  /** The metrics listener (`--listen-metrics-urls`), plain HTTP. */
  readonly metricsPort: number;
  /** Writes a key through the v3 gateway (test setup only; uses the client certificate under TLS). */
  put(key: string, value: string): Promise<void>;
  /** Turns on etcd's role-based user auth (root user with a password), as `etcdctl auth enable` does. */
  enableUserAuth(): Promise<void>;
  stop(): Promise<void>;
}

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const METRICS_PORT = 2381;

/**
 * Starts a real single-member etcd on `ip` (2379 client, 2380 peer) in a temp data dir. With `tls`,
 * both listeners serve HTTPS, demanding client certificates signed by the test CA unless
 * `clientCertAuth` is false.
 */
export async function startEtcd(ip: string, tls?: TlsMaterial, clientCertAuth = true): Promise<RunningEtcd> {
  if (!existsSync(ETCD_BINARY)) throw new Error(`${ETCD_BINARY} is missing: apt-get install etcd-server`);
  const dataDir = mkdtempSync(join(tmpdir(), "portwarden-etcd-"));
  const scheme = tls ? "https" : "http";
  const clientUrl = `${scheme}://${ip}:${CLIENT_PORT}`;
  const peerUrl = `${scheme}://${ip}:${PEER_PORT}`;
  const tlsArgs = tls
    ? [
        `--cert-file=${tls.certFile}`,
        `--key-file=${tls.keyFile}`,
        `--peer-cert-file=${tls.certFile}`,
        `--peer-key-file=${tls.keyFile}`,
        // etcd demands client certificates whenever a trusted CA is set, so "no client auth" omits it.
        ...(clientCertAuth
          ? [
              `--trusted-ca-file=${tls.caFile}`,
              "--client-cert-auth=true",
              `--peer-trusted-ca-file=${tls.caFile}`,
              "--peer-client-cert-auth=true",
            ]
          : []),
      ]
    : [];
  const child = spawn(
    ETCD_BINARY,
    [
      "--name=portwarden-test",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=portwarden-test=${peerUrl}`,
      "--initial-cluster-state=new",
      // A single member needs no long election wait.
      "--heartbeat-interval=50",
      "--election-timeout=250",
      "--log-level=warn",
      `--listen-metrics-urls=http://${ip}:${METRICS_PORT}`,
      ...tlsArgs,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const call = (method: string, path: string, body?: unknown) => gateway(ip, tls, method, path, body);
  const stop = () => stopProcess(child).finally(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    await waitUntilHealthy(
      child,
      () => call("GET", "/health"),
      () => log,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    clientPort: CLIENT_PORT,
    peerPort: PEER_PORT,
    metricsPort: METRICS_PORT,
    put: async (key, value) => {
      const b64 = (text: string) => Buffer.from(text).toString("base64");
      const answer = await call("POST", "/v3/kv/put", { key: b64(key), value: b64(value) });
      if (answer.status !== 200) throw new Error(`etcd put failed: ${answer.status} ${answer.body}`);
    },
    enableUserAuth: async () => {
      for (const [path, body] of [
        ["/v3/auth/role/add", { name: "root" }],
        ["/v3/auth/user/add", { name: "root", password: "test-only-password" }],
        ["/v3/auth/user/grant", { user: "root", role: "root" }],
        ["/v3/auth/enable", {}],
      ] as const) {
        const answer = await call("POST", path, body);
        if (answer.status !== 200) throw new Error(`etcd ${path} failed: ${answer.status} ${answer.body}`);
      }
    },
    stop,
  };
}

function gateway(
  ip: string,
  tls: TlsMaterial | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const options = {
      host: ip,
      port: CLIENT_PORT,
      method,
      path,
      timeout: 1000,
      ...(tls
        ? {
            ca: readFileSync(tls.caFile),
            cert: readFileSync(tls.clientCertFile),
            key: readFileSync(tls.clientKeyFile),
          }
        : {}),
    };
    const req = (tls ? httpsRequest : httpRequest)(options, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(payload);
  });
}

async function waitUntilHealthy(
  child: ChildProcess,
  health: () => Promise<{ status: number; body: string }>,
  log: () => string,
): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}: ${log()}`);
    try {
      const answer = await health();
      if (answer.status === 200 && answer.body.includes('"health":"true"')) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`etcd did not become healthy within 20 s: ${log()}`);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
