import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type CoverageRecord, type CoverageStore, parseCoverageRecord } from "./coverage.ts";

/** Far more than a record of 1,000 slices needs: refuse anything bigger instead of reading it. */
const MAX_RECORD_BYTES = 256 * 1024;

function parseJson(text: string, source: string): CoverageRecord {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return parseCoverageRecord(undefined, source);
  }
  return parseCoverageRecord(data, source);
}

/** `coverage.json` beside the state file (`.portwarden/coverage.json`); written atomically. */
export class FileCoverageStore implements CoverageStore {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  async load(): Promise<CoverageRecord | undefined> {
    let text: string;
    try {
      const stat = await fs.stat(this.path);
      if (stat.size > MAX_RECORD_BYTES) return parseCoverageRecord(undefined, this.path);
      text = await fs.readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    return parseJson(text, this.path);
  }

  async save(record: CoverageRecord): Promise<void> {
    await fs.mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${randomBytes(4).toString("hex")}.tmp`;
    await fs.writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    await fs.rename(temp, this.path);
  }
}

/** One object in the round bucket (deployed rounds): read by Discover, rewritten every round. */
export class S3CoverageStore implements CoverageStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly key: string,
  ) {}

  async load(): Promise<CoverageRecord | undefined> {
    const source = `s3://${this.bucket}/${this.key}`;
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      if ((response.ContentLength ?? 0) > MAX_RECORD_BYTES) return parseCoverageRecord(undefined, source);
      return parseJson((await response.Body?.transformToString("utf8")) ?? "", source);
    } catch (error) {
      if (error instanceof Error && error.name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async save(record: CoverageRecord): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key,
        Body: JSON.stringify(record),
        ContentType: "application/json",
      }),
    );
  }
}
