import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import { InputError, PortwardenError } from "../errors/errors.ts";
import type { ExposureRecord } from "../findings/types.ts";
import { DEFAULT_TTL_DAYS } from "./dynamo-schema.ts";
import { acquiredLease, pageOfPending, type StoredLease } from "./local-outbox.ts";
import {
  assertStorable,
  type ClaimLease,
  exposureRecordSchema,
  nextVersion,
  versionConditionHolds,
  withAlertCleared,
  withClaim,
  withClaimReleased,
} from "./stored-record.ts";
import { type FlushResult, type OutboxPage, StaleRecordError, type StateStore } from "./types.ts";

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
  /**
   * Stage saveRecords in memory and write them all at once in `flush()` (one atomic write per
   * round instead of one per target). Default: false (every call writes).
   */
  stageWrites?: boolean;
  /** Resolved records with no pending alert are dropped this many days after last seen open. Default: 30. */
  retentionDays?: number;
  /** Clock for retention. Default: Date.now. */
  now?: () => number;
}

/** Another process holds the state file's lock for longer than the timeout. */
export class StateLockedError extends PortwardenError {
  constructor(readonly lockPath: string) {
    super(`state file is locked by another portwarden run (${lockPath}); remove it if no run is active`);
  }
}

const leaseSchema = z.object({ owner: z.string().min(1).max(200), until: z.number().int().min(0) });
const stateFileSchema = z.object({
  schemaVersion: z.literal(STATE_FILE_SCHEMA_VERSION),
  records: z.array(exposureRecordSchema),
  leases: z.record(z.string().max(300), leaseSchema).optional(),
  marks: z.record(z.string().max(300), z.string().max(300)).optional(),
});

/** The parsed file: records by key (and by IP for loads), leases, marks. */
interface StateDocument {
  records: Map<string, ExposureRecord>;
  leases: Map<string, StoredLease>;
  marks: Map<string, string>;
}

interface Snapshot {
  identity: string;
  doc: StateDocument;
  byIp: Map<string, ExposureRecord[]>;
}

const DAY_MS = 86_400_000;
const LOCK_BYTES = 32;
/** A takeover tombstone older than this belongs to a process that died mid-takeover. */
const TOMBSTONE_MAX_AGE_MS = 60_000;

/**
 * StateStore in one JSON file, the local default. Writes are atomic (temp file in the same
 * directory, fsync, rename, fsync of the directory): after a crash the file holds either the old
 * or the new state, never half of either. Every write re-reads the file under a lock file and
 * applies only changes whose version condition still holds, so two processes cannot both apply a
 * change made from the same loaded version. A corrupt file is an error naming the path, never a
 * reset; nothing of its content is echoed. Only regular files are read (no FIFO, device, symlink).
 */
export class FileStateStore implements StateStore {
  /** Claims and marks of a page are one write each: large pages, few rewrites of the file. */
  readonly outboxPageSize = 5000;
  readonly path: string;
  private readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly maxBytes: number;
  private readonly stageWrites: boolean;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private snapshot?: Snapshot;
  /** Staged saveRecords calls (stageWrites), each applied all-or-nothing at flush. */
  private staged: ExposureRecord[][] = [];
  private stagedByKey = new Map<string, ExposureRecord>();
  /** How many times the file was written, for "one write per round" assertions and the bench. */
  writes = 0;
  bytesWritten = 0;
  /** Serialises this process's writers so they queue instead of contending for the lock file. */
  private writeQueue: Promise<unknown> = Promise.resolve();

  constructor(options: FileStateStoreOptions = {}) {
    this.path = resolve(options.path ?? DEFAULT_STATE_PATH);
    this.lockPath = `${this.path}.lock`;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.stageWrites = options.stageWrites ?? false;
    const retentionDays = options.retentionDays ?? DEFAULT_TTL_DAYS;
    if (!Number.isFinite(retentionDays) || retentionDays <= 0)
      throw new InputError("retentionDays", `${retentionDays} is not a positive number of days`);
    this.retentionMs = retentionDays * DAY_MS;
    this.now = options.now ?? Date.now;
  }

  async loadIp(ip: string): Promise<ExposureRecord[]> {
    const snapshot = await this.read();
    const out = new Map((snapshot.byIp.get(ip) ?? []).map((r) => [r.key, r]));
    if (this.stagedByKey.size > 0)
      for (const record of this.stagedByKey.values()) if (record.ip === ip) out.set(record.key, record);
    return [...out.values()].map((r) => structuredClone(r));
  }

  async saveRecords(records: readonly ExposureRecord[]): Promise<void> {
    assertStorable(records);
    if (records.length === 0) return;
    if (this.stageWrites) {
      const { doc } = await this.read();
      for (const record of records) {
        const current = this.stagedByKey.get(record.key) ?? doc.records.get(record.key);
        if (!versionConditionHolds(current, record)) throw new StaleRecordError(record.key);
      }
      const group = records.map((r) => structuredClone(r));
      this.staged.push(group);
      for (const record of group) this.stagedByKey.set(record.key, nextVersion(record));
      return;
    }
    await this.mutate((doc) => {
      for (const record of records) {
        if (!versionConditionHolds(doc.records.get(record.key), record))
          throw new StaleRecordError(record.key);
      }
      for (const record of records) doc.records.set(record.key, nextVersion(record));
      return true;
    });
  }

  /**
   * Writes every staged saveRecords call in one atomic write. A call whose conditions no longer
   * hold against the file (another process wrote those records meanwhile) is left out whole and
   * its keys reported stale. On a write error nothing staged is lost from memory: flush again.
   */
  async flush(): Promise<FlushResult> {
    if (this.staged.length === 0) return { stale: [] };
    const groups = this.staged;
    const stale: string[] = [];
    await this.mutate((doc) => {
      for (const group of groups) {
        if (group.some((record) => !versionConditionHolds(doc.records.get(record.key), record))) {
          stale.push(...group.map((r) => r.key));
          continue;
        }
        for (const record of group) doc.records.set(record.key, nextVersion(record));
      }
      return true;
    });
    this.staged = [];
    this.stagedByKey = new Map();
    return { stale };
  }

  async listPendingAlerts(): Promise<ExposureRecord[]> {
    return [...(await this.read()).doc.records.values()]
      .filter((r) => r.pendingAlert)
      .map((r) => structuredClone(r));
  }

  async pendingAlertPage(options: { cursor?: string; limit: number }): Promise<OutboxPage> {
    return pageOfPending((await this.read()).doc.records.values(), options);
  }

  async claimAlerts(records: readonly ExposureRecord[], lease: ClaimLease): Promise<ExposureRecord[]> {
    const claimed: ExposureRecord[] = [];
    if (records.length === 0) return claimed;
    await this.mutate((doc) => {
      for (const record of records) {
        const next = withClaim(doc.records.get(record.key), record, lease);
        if (!next) continue;
        doc.records.set(record.key, next);
        claimed.push(structuredClone(next));
      }
      return claimed.length > 0;
    });
    return claimed;
  }

  async markAlerted(records: readonly ExposureRecord[], at: string): Promise<void> {
    if (records.length === 0) return;
    await this.mutate((doc) => {
      let changed = false;
      for (const record of records) {
        const cleared = withAlertCleared(doc.records.get(record.key), record, at);
        if (!cleared) continue;
        doc.records.set(record.key, cleared);
        changed = true;
      }
      return changed;
    });
  }

  async releaseAlerts(records: readonly ExposureRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.mutate((doc) => {
      let changed = false;
      for (const record of records) {
        const released = withClaimReleased(doc.records.get(record.key), record);
        if (!released) continue;
        doc.records.set(record.key, released);
        changed = true;
      }
      return changed;
    });
  }

  async listIps(): Promise<string[]> {
    return [...(await this.read()).byIp.keys()].sort();
  }

  async acquireLease(name: string, lease: ClaimLease): Promise<boolean> {
    let acquired = false;
    await this.mutate((doc) => {
      const next = acquiredLease(doc.leases.get(name), lease);
      if (!next) return false;
      doc.leases.set(name, next);
      acquired = true;
      return true;
    });
    return acquired;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.mutate((doc) => doc.leases.get(name)?.owner === owner && doc.leases.delete(name));
  }

  async readMarks(): Promise<Map<string, string>> {
    return new Map((await this.read()).doc.marks);
  }

  async writeMark(name: string, value: string): Promise<void> {
    await this.mutate((doc) => {
      if (doc.marks.get(name) === value) return false;
      doc.marks.set(name, value);
      return true;
    });
  }

  /** Re-reads under the lock (never from the cache), applies `change`, and writes atomically if it reports a change. */
  private mutate(change: (doc: StateDocument) => boolean): Promise<void> {
    const run = this.writeQueue.then(() =>
      this.withLock(async () => {
        const fresh = await this.readFile();
        const doc = fresh?.doc ?? emptyDocument();
        if (change(doc)) this.snapshot = await this.writeAtomically(doc);
        else if (fresh) this.snapshot = fresh;
      }),
    );
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  /** The parsed file, reused while the file is unchanged (same inode, size, change time in ns). */
  private async read(): Promise<Snapshot> {
    const snapshot = await this.readFile(this.snapshot);
    this.snapshot = snapshot ?? indexed("absent", emptyDocument());
    return this.snapshot;
  }

  /**
   * Opens the file without following a symlink and without blocking on a FIFO, refuses anything
   * but a regular file before reading a byte, and reads at most `maxBytes`.
   */
  private async readFile(cached?: Snapshot): Promise<Snapshot | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "ELOOP") throw this.refuse("is a symbolic link; give the path of the file itself");
      throw new PortwardenError(`state file ${this.path} cannot be opened (${code ?? "error"})`);
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) throw this.refuse("is not a regular file");
      if (stats.size > BigInt(this.maxBytes)) {
        throw new InputError(
          "state file",
          `${this.path} is ${stats.size} bytes, above the ${this.maxBytes} limit`,
        );
      }
      const identity = `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
      if (cached?.identity === identity) return cached;
      return indexed(identity, this.parse(await readBounded(handle, this.maxBytes, this.path)));
    } finally {
      await handle.close();
    }
  }

  private refuse(why: string): InputError {
    return new InputError(
      "state file",
      `${this.path} ${why}; portwarden will not overwrite it: repair it or move it aside`,
    );
  }

  /** Errors name the path and the place, never the content (the path may point at a secret). */
  private parse(text: string): StateDocument {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw this.refuse("is not valid JSON");
    }
    const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (version !== STATE_FILE_SCHEMA_VERSION) {
      const found = typeof version === "number" ? String(version) : `a ${typeof version}`;
      throw this.refuse(`has schemaVersion ${found}, expected ${STATE_FILE_SCHEMA_VERSION}`);
    }
    const parsed = stateFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw this.refuse(
        `is not portwarden state (at ${issue?.path.join(".") || "top level"}: ${issue?.code ?? "invalid"})`,
      );
    }
    const records = new Map<string, ExposureRecord>();
    parsed.data.records.forEach((record, i) => {
      if (records.has(record.key)) throw this.refuse(`holds the key of records.${i} twice`);
      records.set(record.key, record as ExposureRecord);
    });
    return {
      records,
      leases: new Map(Object.entries(parsed.data.leases ?? {})),
      marks: new Map(Object.entries(parsed.data.marks ?? {})),
    };
  }

  /** Resolved history with nothing left to send ages out, as DynamoDB's TTL does. */
  private prune(doc: StateDocument): void {
    const horizon = this.now() - this.retentionMs;
    for (const [key, record] of doc.records) {
      if (record.status === "resolved" && !record.pendingAlert && Date.parse(record.lastSeen) < horizon)
        doc.records.delete(key);
    }
    const now = this.now();
    for (const [name, lease] of doc.leases) if (lease.until < now) doc.leases.delete(name);
  }

  private async writeAtomically(doc: StateDocument): Promise<Snapshot> {
    this.prune(doc);
    const dir = dirname(this.path);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const sorted = [...doc.records.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    // One record per line: compact, and still readable and diffable.
    const lines = [`{"schemaVersion":${STATE_FILE_SCHEMA_VERSION},"records":[`];
    sorted.forEach((record, i) => {
      lines.push(`${JSON.stringify(record)}${i < sorted.length - 1 ? "," : ""}`);
    });
    const extras: string[] = [];
    if (doc.leases.size > 0) extras.push(`"leases":${JSON.stringify(Object.fromEntries(doc.leases))}`);
    if (doc.marks.size > 0) extras.push(`"marks":${JSON.stringify(Object.fromEntries(doc.marks))}`);
    lines.push(`]${extras.map((e) => `,${e}`).join("")}}`);
    const text = `${lines.join("\n")}\n`;
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
    this.writes += 1;
    this.bytesWritten += Buffer.byteLength(text);
    const stats = await fs.lstat(this.path, { bigint: true });
    return indexed(`${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`, doc);
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
          if (await this.takeOverLockOfDeadProcess(claim)) continue;
          if (Date.now() >= deadline) throw new StateLockedError(this.lockPath);
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
        }
      }
    } finally {
      await fs.rm(claim, { force: true });
    }
    try {
      await this.removeLeftoversOfDeadProcesses();
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
  private async removeLeftoversOfDeadProcesses(): Promise<void> {
    const dir = dirname(this.path);
    const prefix = `.${basename(this.path)}.`;
    const tombstones = `${basename(this.lockPath)}.stale-`;
    for (const name of await fs.readdir(dir)) {
      if (name.startsWith(tombstones)) {
        const stats = await fs.lstat(join(dir, name)).catch(() => undefined);
        if (stats && Date.now() - stats.mtimeMs > TOMBSTONE_MAX_AGE_MS)
          await fs.rm(join(dir, name), { force: true });
        continue;
      }
      if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
      const pid = Number.parseInt(name.slice(prefix.length), 10);
      if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) await fs.rm(join(dir, name), { force: true });
    }
  }

  /**
   * Removes a lock whose owner died, safely against other processes doing the same: removing a
   * lock by name is not conditional, so a slow process could otherwise remove the NEW lock that
   * a faster one took meanwhile, and two processes would write at once (lost records). Only the
   * process that creates the tombstone named after this lock's inode and pid (an exclusive link)
   * may remove it, and only after checking the lock is still that dead one.
   */
  private async takeOverLockOfDeadProcess(claim: string): Promise<boolean> {
    const seen = await this.lockOwner();
    if (!seen || isAlive(seen.pid)) return false;
    const tombstone = `${this.lockPath}.stale-${seen.ino}-${seen.pid}`;
    try {
      await fs.link(claim, tombstone);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    try {
      const now = await this.lockOwner();
      if (now && now.ino === seen.ino && now.pid === seen.pid) await fs.rm(this.lockPath, { force: true });
      return true;
    } finally {
      await fs.rm(tombstone, { force: true });
    }
  }

  /** The lock's inode and pid, read without following links and at most a few bytes. */
  private async lockOwner(): Promise<{ ino: bigint; pid: number } | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.lockPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) return undefined;
      const buffer = Buffer.alloc(LOCK_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, LOCK_BYTES, 0);
      const pid = Number.parseInt(buffer.subarray(0, bytesRead).toString("ascii"), 10);
      return Number.isInteger(pid) && pid > 0 ? { ino: stats.ino, pid } : undefined;
    } finally {
      await handle.close();
    }
  }
}

function emptyDocument(): StateDocument {
  return { records: new Map(), leases: new Map(), marks: new Map() };
}

function indexed(identity: string, doc: StateDocument): Snapshot {
  const byIp = new Map<string, ExposureRecord[]>();
  for (const record of doc.records.values()) {
    const list = byIp.get(record.ip);
    if (list) list.push(record);
    else byIp.set(record.ip, [record]);
  }
  return { identity, doc, byIp };
}

/** Reads at most `maxBytes` (a file growing after its stat cannot make us read more). */
async function readBounded(handle: fs.FileHandle, maxBytes: number, path: string): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buffer = Buffer.alloc(Math.min(1024 * 1024, maxBytes + 1 - total));
    if (buffer.length === 0)
      throw new InputError("state file", `${path} grew above the ${maxBytes} limit while being read`);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    chunks.push(buffer.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total).toString("utf8");
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
