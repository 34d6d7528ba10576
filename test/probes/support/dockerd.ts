import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TlsMaterial } from "./tls-material.ts";

export const DOCKERD_BINARY = "/usr/sbin/dockerd";

export interface RunningDockerd {
  stop(): Promise<void>;
}

/** Why dockerd tests cannot run here, or undefined when they can (root and Debian's docker.io). */
export function dockerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "SKIPPED: real dockerd tests need root";
  if (!existsSync(DOCKERD_BINARY)) return `SKIPPED: ${DOCKERD_BINARY} is missing (apt-get install docker.io)`;
  return undefined;
}

/**
 * Starts Debian's real dockerd listening only on `tcp://ip:port` for each port (no unix socket),
 * with its own data, exec root and pid file, no iptables and no bridge: it touches nothing outside
 * the test's network namespace. With `tlsVerify`, every listener demands a client certificate.
 */
export async function startDockerd(
  ip: string,
  ports: number[],
  tlsVerify?: TlsMaterial,
): Promise<RunningDockerd> {
  const root = mkdtempSync(join(tmpdir(), "portwarden-dockerd-"));
  const args = [
    "--iptables=false",
    "--ip6tables=false",
    "--bridge=none",
    "--storage-driver=vfs",
    `--data-root=${join(root, "data")}`,
    `--exec-root=${join(root, "exec")}`,
    `--pidfile=${join(root, "dockerd.pid")}`,
    ...ports.map((port) => `--host=tcp://${ip}:${port}`),
    ...(tlsVerify
      ? [
          "--tlsverify",
          `--tlscacert=${tlsVerify.caFile}`,
          `--tlscert=${tlsVerify.certFile}`,
          `--tlskey=${tlsVerify.keyFile}`,
        ]
      : []),
  ];
  const child = spawn(DOCKERD_BINARY, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const stop = () => stopProcess(child).finally(() => rmSync(root, { recursive: true, force: true }));
  try {
    await waitUntilListening(child, ip, ports[0] as number, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
}

/** Waits until the first port accepts connections (TLS or not, any answer will do). */
async function waitUntilListening(child: ChildProcess, ip: string, port: number, log: () => string) {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const req = request({ host: ip, port, path: "/_ping", timeout: 500 }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on("timeout", () => req.destroy());
      // A TLS listener answers a plain request by closing it: listening all the same.
      req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code !== "ECONNREFUSED"));
      req.end();
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`dockerd did not listen on ${ip}:${port} within 30 s: ${log()}`);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
