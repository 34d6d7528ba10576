import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { InputError } from "../errors/errors.ts";

/** Reads and parses one JSON object, refusing more than `maxBytes` (never buffers an unbounded body). */
export async function getJson(s3: S3Client, bucket: string, key: string, maxBytes: number): Promise<unknown> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if ((response.ContentLength ?? 0) > maxBytes)
    throw new InputError(`s3://${bucket}/${key}`, `${response.ContentLength} bytes, more than ${maxBytes}`);
  const text = (await response.Body?.transformToString("utf8")) ?? "";
  if (text.length > maxBytes) throw new InputError(`s3://${bucket}/${key}`, `more than ${maxBytes} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`s3://${bucket}/${key}`, "is not valid JSON");
  }
}

export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: "application/json",
    }),
  );
}
