import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Notifier } from "../../lib/alerts/types.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { runRound } from "../../lib/round/run-round.ts";
import { scanTargets } from "../../lib/round/scan-stage.ts";
import { targetsFromHosts } from "../../lib/round/targets.ts";
import { FileStateStore, STATE_FILE_SCHEMA_VERSION } from "../../lib/state/file-state-store.ts";
import { exposureRecord } from "./records.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");
const SECRET = "root:$6$s3cr3tHashThatMustNeverBePrinted:19000:0:99999:7:::";
const PORTS = parsePortSpec("22,10250");

function scanOf(open: number[]) {
  return async (hosts: readonly string[]) =>
    hosts.map((ip) => ({ target: ip, ip, open, closed: 0, filtered: 0, complete: true, durationMs: 1 }));
}

class RecordingNotifier implements Notifier {
  events: AlertEvent[] = [];
  async publish(events: readonly AlertEvent[]) {
    this.events.push(...events);
    return { accepted: events.map((e) => e.id), failed: [] };
  }
  async summary() {}
}

/** Runs a fixture child; resolves with its exit code/signal and stdout. */
function runChild(script: string, args: string[]): Promise<{ status: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(FIXTURES, script), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      resolve({ status: signal ?? String(code), stdout: stdout + stderr }),
    );
  });
}

/** A pid that certainly belongs to no process any more. */
function deadPid(): number {
  const done = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  return Number(done.stdout.trim());
}

describe("FileStateStore under concurrency, faults and scale", () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "portwarden-file-faults-"));
    path = join(dir, "state.json");
  });
  afterEach(async () => {
    spawnSync("chattr", ["-i", dir]);
    chmodSync(dir, 0o700);
    await rm(dir, { recursive: true, force: true });
  });

  it("lets 4 processes run rounds on one file through stale-lock takeovers: no alert twice, nothing lost", {
    timeout: 180_000,
  }, async () => {
    // Prepare: a lock left by a dead process; a writer that dies holding the lock joins the race.
    await writeFile(`${path}.lock`, String(deadPid()));
    // Act
    const runs = await Promise.all([
      ...[0, 1, 2, 3].map((child) => runChild("concurrent-round.ts", [path, String(child), "3"])),
      runChild("crash-writer.ts", [path]),
    ]);
    // Assess
    const rounds = runs.slice(0, 4);
    expect(rounds.map((r) => r.status)).toEqual(["0", "0", "0", "0"]);
    const ids = rounds.flatMap((r) => [...r.stdout.matchAll(/^ALERT (\S+)$/gm)].map((m) => m[1]));
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(twice).toEqual([]);
    const state = new FileStateStore({ path });
    const records = [...(await state.listIps())].length;
    expect(records).toBe(8 + 4 * 3); // 8 shared IPs, and every child's own IP of every round
    expect(ids).toHaveLength(2 * records);
    expect(await state.listPendingAlerts()).toEqual([]);
    expect(Object.fromEntries(await state.readMarks())).toEqual({
      "child-0": "14",
      "child-1": "14",
      "child-2": "14",
      "child-3": "14",
    });
  });

  it("writes the state once for a round of 200 targets", async () => {
    // Prepare
    const store = new FileStateStore({ path, stageWrites: true });
    const hosts = Array.from({ length: 200 }, (_, i) => `127.3.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    // Act
    await scanTargets(
      targetsFromHosts(hosts),
      { scan: scanOf([22, 10250]), probe: async () => [], store, addressPolicy: ALLOW_INTERNAL },
      {
        roundId: "r1",
        ports: PORTS,
      },
    );
    const writesBeforeFlush = store.writes;
    await store.flush();
    // Assess
    expect([writesBeforeFlush, store.writes]).toEqual([0, 1]);
    expect(await new FileStateStore({ path }).listIps()).toHaveLength(200);
  });

  it("prunes resolved records 30 days after last seen, keeping open ones and unsent alerts", async () => {
    // Prepare
    const now = Date.parse("2026-11-29T00:00:00.000Z");
    const old = "2026-10-01T00:00:00.000Z";
    await new FileStateStore({ path }).saveRecords([
      exposureRecord({ port: 1, status: "resolved", lastSeen: old }),
      exposureRecord({ port: 2, status: "resolved", lastSeen: old, pendingAlert: "resolved" }),
      exposureRecord({ port: 3, status: "resolved", lastSeen: "2026-11-20T00:00:00.000Z" }),
      exposureRecord({ port: 4, status: "open", lastSeen: old }),
    ]);
    // Act
    await new FileStateStore({ path, now: () => now }).saveRecords([exposureRecord({ port: 5 })]);
    // Assess
    expect((await new FileStateStore({ path }).loadIp("127.0.2.1")).map((r) => r.port)).toEqual([2, 3, 4, 5]);
  });

  it("refuses a device (/dev/zero) at once without reading it", async () => {
    // Act
    const started = Date.now();
    const load = new FileStateStore({ path: "/dev/zero" }).loadIp("127.0.2.1");
    // Assess
    await expect(load).rejects.toThrow(/\/dev\/zero is not a regular file/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("refuses a FIFO instead of hanging on it", async () => {
    // Prepare
    expect(spawnSync("mkfifo", [path]).status).toBe(0);
    // Act
    const load = new FileStateStore({ path }).loadIp("127.0.2.1");
    // Assess
    await expect(load).rejects.toThrow(/is not a regular file/);
  });

  it("refuses a symlink without reading its target, and echoes nothing of it", async () => {
    // Prepare
    const secret = join(dir, "shadow");
    await writeFile(secret, SECRET);
    await symlink(secret, path);
    // Act
    const error = await new FileStateStore({ path }).loadIp("127.0.2.1").catch((e: Error) => e);
    // Assess
    expect(String(error)).toMatch(/is a symbolic link/);
    expect(String(error)).not.toContain("s3cr3t");
  });

  it("never echoes file content in a parse error", async () => {
    // Prepare
    await writeFile(path, SECRET);
    const versioned = join(dir, "versioned.json");
    await writeFile(versioned, JSON.stringify({ schemaVersion: SECRET, records: [] }));
    // Act
    const errors = await Promise.all(
      [path, versioned].map((p) =>
        new FileStateStore({ path: p }).loadIp("127.0.2.1").catch((e: Error) => String(e)),
      ),
    );
    // Assess
    expect(errors[0]).toMatch(/is not valid JSON/);
    expect(errors[1]).toMatch(/has schemaVersion a string, expected 1/);
    for (const error of errors) expect(error).not.toContain("s3cr3t");
  });

  it("still reports the round's findings and sends a round-failed alert when the state cannot be written", async () => {
    // Prepare: a directory nobody may write in (immutable as root, read-only otherwise).
    const stateDir = join(dir, "ro");
    mkdirSync(stateDir);
    await writeFile(
      join(stateDir, "state.json"),
      `{"schemaVersion":${STATE_FILE_SCHEMA_VERSION},"records":[]}\n`,
    );
    if (process.getuid?.() === 0) expect(spawnSync("chattr", ["+i", stateDir]).status).toBe(0);
    else chmodSync(stateDir, 0o500);
    const notifier = new RecordingNotifier();
    const store = new FileStateStore({ path: join(stateDir, "state.json"), stageWrites: true });
    // Act
    const report = await runRound(
      targetsFromHosts(["127.0.2.1"]),
      { scan: scanOf([10250]), probe: async () => [], store, notifier, addressPolicy: ALLOW_INTERNAL },
      { ports: PORTS },
    );
    spawnSync("chattr", ["-i", stateDir]);
    // Assess
    expect(report.newExposures.map((f) => f.port)).toEqual([10250]);
    expect(report.unrecorded?.map((f) => f.port)).toEqual([10250]);
    expect(report.round.complete).toBe(false);
    expect(notifier.events.map((e) => [e.eventType, e.finding.ip])).toEqual([["round-failed", "state"]]);
    expect(notifier.events[0]?.message).toMatch(/state not written \(E(PERM|ACCES)/);
    expect(await readFile(join(stateDir, "state.json"), "utf8")).toContain('"records":[]');
  });
});
