import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import { InputError, PortwardenError } from "../errors/errors.ts";
import type { ExposureRecord } from "../findings/types.ts";
import {
  exposureRecordSchema,
  nextVersion,
  versionConditionHolds,
  withAlertCleared,
} from "./stored-record.ts";
import { StaleRecordError, type StateStore } from "./types.ts";

export const DEFAULT_STATE_PATH = ".portwarden/state.json";
/** Bumped on any incompatible change of the file layout; a file with another version is refused. */
export const STATE_FILE_SCHEMA_VERSION = 1;

export interface FileStateStoreOptions {
  /** Default: `.portwarden/state.json` (relative to the working directory). */
  path?: string;
  /** How long to wait for another process's lock. Default: 10 000 ms. */
  lockTimeoutMs?: number;
  /** Refuse larger files instead of reading them into memory. Default: 64 MiB. */
  maxBytes?: number;
}

/** Another process holds the state file's lock for longer than the timeout. */
export class StateLockedError extends PortwardenError {
  constructor(readonly lockPath: string) {
    super(`state file is locked by another portwarden run (${lockPath}); remove it if no run is active`);
  }
}

const stateFileSchema = z.object({
  schemaVersion: z.literal(STATE_FILE_SCHEMA_VERSION),
  records: z.array(exposureRecordSchema),
});

/**
 * StateStore in one JSON file, the local default. Writes are atomic (temp file in the same
 * directory, fsync, rename, fsync of the directory): after a crash the file holds either the old
 * or the new state, never half of either. Writes are version-conditional like DynamoDB's: the file
 * is re-read under a lock file before every write, so two processes cannot both apply a change
 * made from the same loaded version. A corrupt file is an error naming the path, never a reset.
 */
export class FileStateStore implements StateStore {
  readonly path: string;
  private readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly maxBytes: number;
  private cache?: { identity: string; records: Map<string, ExposureRecord> };
  /** Serialises this process's writers so they queue instead of contending for the lock file. */
  private writeQueue: Promise<unknown> = Promise.resolve();

  constructor(options: FileStateStoreOptions = {}) {
    this.path = resolve(options.path ?? DEFAULT_STATE_PATH);
    this.lockPath = `${this.path}.lock`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  async loadIp(ip: string): Promise<ExposureRecord[]> {
    return [...(await this.read()).values()].filter((r) => r.ip === ip).map((r) => structuredClone(r));
  }

  async saveRecords(records: readonly ExposureRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.mutate((stored) => {
      for (const record of records) {
        if (!versionConditionHolds(stored.get(record.key), record)) throw new StaleRecordError(record.key);
      }
      for (const record of records) stored.set(record.key, nextVersion(record));
      return true;
    });
  }

  async listPendingAlerts(): Promise<ExposureRecord[]> {
    return [...(await this.read()).values()].filter((r) => r.pendingAlert).map((r) => structuredClone(r));
  }

  async markAlerted(records: readonly ExposureRecord[], at: string): Promise<void> {
    if (records.length === 0) return;
    await this.mutate((stored) => {
      let changed = false;
      for (const record of records) {
        const cleared = withAlertCleared(stored.get(record.key), record, at);
        if (!cleared) continue;
        stored.set(record.key, cleared);
        changed = true;
      }
      return changed;
    });
  }

  async listIps(): Promise<string[]> {
    return [...new Set([...(await this.read()).values()].map((r) => r.ip))].sort();
  }

  /** Re-reads under the lock, applies `change`, and writes atomically if it reports a change. */
  private mutate(change: (stored: Map<string, ExposureRecord>) => boolean): Promise<void> {
    const run = this.writeQueue.then(() =>
      this.withLock(async () => {
        // A copy: a change that fails half-way must not leave the cache ahead of the file.
        const stored = new Map(await this.read());
        if (change(stored)) await this.writeAtomically(stored);
      }),
    );
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * The parsed file, reused while the file is unchanged (same inode, size, mtime): a round loads
   * every target's records, and every write replaces the inode. Callers must not mutate it.
   */
  private async read(): Promise<ReadonlyMap<string, ExposureRecord>> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (stats.size > this.maxBytes) {
        throw new InputError(
          "state file",
          `${this.path} is ${stats.size} bytes, above the ${this.maxBytes} limit`,
        );
      }
      const identity = `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
      if (this.cache?.identity !== identity) {
        this.cache = { identity, records: this.parse(await handle.readFile("utf8")) };
      }
      return this.cache.records;
    } finally {
      await handle.close();
    }
  }

  private parse(text: string): Map<string, ExposureRecord> {
    const refuse = (why: string, cause?: unknown) =>
      new InputError(
        "state file",
        `${this.path} ${why}; portwarden will not overwrite it: repair it or move it aside`,
        { cause },
      );
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw refuse(`is not valid JSON (${(error as Error).message})`, error);
    }
    const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (version !== STATE_FILE_SCHEMA_VERSION) {
      throw refuse(`has schemaVersion ${JSON.stringify(version)}, expected ${STATE_FILE_SCHEMA_VERSION}`);
    }
    const parsed = stateFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw refuse(`is not portwarden state (at ${issue?.path.join(".") || "top level"}: ${issue?.message})`);
    }
    const records = new Map<string, ExposureRecord>();
    for (const record of parsed.data.records) {
      if (records.has(record.key)) throw refuse(`holds record ${JSON.stringify(record.key)} twice`);
      records.set(record.key, record);
    }
    return records;
  }

  private async writeAtomically(records: Map<string, ExposureRecord>): Promise<void> {
    const dir = dirname(this.path);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const sorted = [...records.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const text = `${JSON.stringify({ schemaVersion: STATE_FILE_SCHEMA_VERSION, records: sorted }, null, 2)}\n`;
    // Same directory as the target: rename is atomic only within one filesystem.
    const temp = this.tempPath("state");
    try {
      const handle = await fs.open(temp, "wx", 0o600);
      try {
        await handle.writeFile(text, "utf8");
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, this.path);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    // Persist the rename itself (the directory entry) before reporting success.
    const dirHandle = await fs.open(dir, "r");
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  private async withLock<T>(work: () => Promise<T>): Promise<T> {
    await fs.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    // The lock appears with its owner's pid already in it (link is atomic), so a crash can never
    // leave an anonymous lock that nobody may take over.
    const claim = this.tempPath("lock");
    await fs.writeFile(claim, String(process.pid), { mode: 0o600 });
    const deadline = Date.now() + this.lockTimeoutMs;
    try {
      for (;;) {
        try {
          await fs.link(claim, this.lockPath);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
          if (await this.removeLockOfDeadProcess()) continue;
          if (Date.now() >= deadline) throw new StateLockedError(this.lockPath);
          await new Promise((r) => setTimeout(r, 25));
        }
      }
    } finally {
      await fs.rm(claim, { force: true });
    }
    try {
      await this.removeTempFilesOfDeadProcesses();
      return await work();
    } finally {
      await fs.rm(this.lockPath, { force: true });
    }
  }

  /** `.state.json.<pid>.<random>.<purpose>.tmp`, beside the state file. */
  private tempPath(purpose: string): string {
    const random = randomBytes(4).toString("hex");
    return join(dirname(this.path), `.${basename(this.path)}.${process.pid}.${random}.${purpose}.tmp`);
  }

  /** Temp files of crashed writers can be as large as the state: remove them, under the lock. */
  private async removeTempFilesOfDeadProcesses(): Promise<void> {
    const prefix = `.${basename(this.path)}.`;
    for (const name of await fs.readdir(dirname(this.path))) {
      if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
      const pid = Number.parseInt(name.slice(prefix.length), 10);
      if (Number.isInteger(pid) && pid > 0 && !isAlive(pid))
        await fs.rm(join(dirname(this.path), name), { force: true });
    }
  }

  /** A lock left by a crashed process (its pid is gone) would otherwise block every later run. */
  private async removeLockOfDeadProcess(): Promise<boolean> {
    let pid: number;
    try {
      pid = Number.parseInt(await fs.readFile(this.lockPath, "utf8"), 10);
    } catch {
      return false;
    }
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) return false;
    await fs.rm(this.lockPath, { force: true });
    return true;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
