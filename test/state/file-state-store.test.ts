import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../lib/errors/errors.ts";
import {
  FileStateStore,
  STATE_FILE_SCHEMA_VERSION,
  StateLockedError,
} from "../../lib/state/file-state-store.ts";
import { StaleRecordError } from "../../lib/state/types.ts";
import { exposureRecord } from "./records.ts";

const CRASH_WRITER = join(import.meta.dirname, "fixtures", "crash-writer.ts");

/** Runs the crash-writer child; resolves with its exit signal once it is dead. */
function runCrashWriter(statePath: string): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CRASH_WRITER, statePath], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`crash-writer exited ${code}: ${stderr}`));
      else resolve(signal);
    });
  });
}

describe("FileStateStore", () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "portwarden-file-state-"));
    path = join(dir, "nested", "state.json");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("persists records across store instances (another process reads what this one wrote)", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    // Act
    const records = await new FileStateStore({ path }).loadIp("127.0.2.1");
    // Assess
    expect(records).toEqual([{ ...exposureRecord(), version: 1 }]);
  });

  it("sees a change another process made since its last read", async () => {
    // Prepare
    const reader = new FileStateStore({ path });
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    await reader.loadIp("127.0.2.1");
    const [loaded] = await new FileStateStore({ path }).loadIp("127.0.2.1");
    await new FileStateStore({ path }).saveRecords([
      { ...(loaded ?? exposureRecord()), missedCompleteScans: 1 },
    ]);
    // Act
    const records = await reader.loadIp("127.0.2.1");
    // Assess
    expect(records).toMatchObject([{ missedCompleteScans: 1, version: 2 }]);
  });

  it("does not let a caller's change to a loaded record alter what is stored", async () => {
    // Prepare
    const store = new FileStateStore({ path });
    await store.saveRecords([exposureRecord()]);
    const [loaded] = await store.loadIp("127.0.2.1");
    if (loaded) loaded.pendingAlert = "new";
    // Act
    const pending = await store.listPendingAlerts();
    // Assess
    expect(pending).toEqual([]);
  });

  it("writes a versioned document that only its owner can read", async () => {
    // Prepare
    // Act
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    // Assess
    const document = JSON.parse(await readFile(path, "utf8"));
    expect(document.schemaVersion).toBe(STATE_FILE_SCHEMA_VERSION);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("rejects a write from a second process that loaded the same version", async () => {
    // Prepare: two stores on one file stand for two processes (each re-reads under the lock).
    const first = new FileStateStore({ path });
    const second = new FileStateStore({ path });
    await first.saveRecords([exposureRecord({ status: "resolved" })]);
    const loadedByBoth = await second.loadIp("127.0.2.1");
    await first.saveRecords(
      loadedByBoth.map((r) => ({ ...r, status: "open" as const, pendingAlert: "new" as const })),
    );
    // Act
    const late = second.saveRecords(loadedByBoth.map((r) => ({ ...r, pendingAlert: "new" as const })));
    // Assess
    await expect(late).rejects.toBeInstanceOf(StaleRecordError);
  });

  it("refuses a corrupt file with an error naming its path, and leaves it untouched", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    const corrupt = (await readFile(path, "utf8")).slice(0, 120);
    await writeFile(path, corrupt);
    const store = new FileStateStore({ path });
    // Act
    const save = store.saveRecords([exposureRecord({ port: 22 })]);
    // Assess
    await expect(save).rejects.toThrow(InputError);
    await expect(store.loadIp("127.0.2.1")).rejects.toThrow(`state file: ${path} is not valid JSON`);
    expect(await readFile(path, "utf8")).toBe(corrupt);
  });

  it("refuses a file of another schema version, naming the version found", async () => {
    // Prepare
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify({ schemaVersion: 7, records: [] }));
    // Act
    const load = new FileStateStore({ path }).listIps();
    // Assess
    await expect(load).rejects.toThrow(`${path} has schemaVersion 7, expected 1`);
  });

  it("refuses a record that is not an exposure record, naming the field", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    const document = JSON.parse(await readFile(path, "utf8"));
    document.records[0].port = "kubelet";
    await writeFile(path, JSON.stringify(document));
    // Act
    const load = new FileStateStore({ path }).loadIp("127.0.2.1");
    // Assess
    await expect(load).rejects.toThrow(/at records\.0\.port/);
  });

  it("refuses a file above the size limit instead of reading it", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    // Act
    const load = new FileStateStore({ path, maxBytes: 100 }).loadIp("127.0.2.1");
    // Assess
    await expect(load).rejects.toThrow(/bytes, above the 100 limit/);
  });

  it("keeps the old state intact when the process dies between writing the temp file and the rename", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    const before = await readFile(path, "utf8");
    // Act
    const signal = await runCrashWriter(path);
    // Assess
    expect(signal).toBe("SIGKILL");
    expect(await readFile(path, "utf8")).toBe(before);
    expect((await new FileStateStore({ path }).loadIp("127.0.2.1")).map((r) => r.port)).toEqual([10250]);
  });

  it("removes the temp file a killed writer left behind on the next write", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    await runCrashWriter(path);
    // Act
    await new FileStateStore({ path }).saveRecords([exposureRecord({ port: 22 })]);
    // Assess
    expect((await readdir(dirname(path))).sort()).toEqual(["state.json"]);
  });

  it("takes over the lock a killed writer left behind", async () => {
    // Prepare
    await new FileStateStore({ path }).saveRecords([exposureRecord()]);
    await runCrashWriter(path);
    // Act
    const save = new FileStateStore({ path, lockTimeoutMs: 500 }).saveRecords([exposureRecord({ port: 22 })]);
    // Assess
    await expect(save).resolves.toBeUndefined();
  });

  it("waits for a live lock holder and then gives up with StateLockedError", async () => {
    // Prepare: a live process (the test runner's parent) holds the lock.
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.lock`, String(process.ppid));
    // Act
    const save = new FileStateStore({ path, lockTimeoutMs: 200 }).saveRecords([exposureRecord()]);
    // Assess
    await expect(save).rejects.toBeInstanceOf(StateLockedError);
  });
});
