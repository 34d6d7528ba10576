import { S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it, vi } from "vitest";

/** Every line the handlers' Powertools Logger and Metrics print, stdout and stderr (one JSON object each). */
function captureOutput(): { lines: () => Record<string, unknown>[]; restore: () => void } {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(capture),
    vi.spyOn(process.stderr, "write").mockImplementation(capture),
  ];
  return {
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

const context = {
  functionName: "portwarden-discover",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:portwarden-discover",
  memoryLimitInMB: "512",
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
  getRemainingTimeInMillis: () => 60_000,
};
const unreachable = () => {
  throw new Error("dependencies were built although the event is invalid");
};
const badEvent = { roundId: "../etc", startedAt: "2026-11-29T03:00:00Z" };

describe("handler observability (Powertools)", () => {
  let output: ReturnType<typeof captureOutput> | undefined;
  afterEach(() => {
    output?.restore();
    vi.unstubAllEnvs();
  });

  it("puts the Lambda context on log lines and records a ColdStart metric only on the first invocation", async () => {
    // Prepare: Lambda sets this for an on-demand environment; Powertools reads it when the handler module loads
    vi.stubEnv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
    const { makeDiscoverHandler } = await import("../../functions/discover.ts");
    output = captureOutput();
    const handler = makeDiscoverHandler(unreachable);
    // Act: two invocations in one "cold start" (this test file's process)
    await handler(badEvent, context as never).catch(() => undefined);
    await handler(badEvent, context as never).catch(() => undefined);
    const lines = output.lines();
    // Assess
    const errors = lines.filter((l) => l.message === "discover failed");
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({
      function_name: "portwarden-discover",
      function_request_id: context.awsRequestId,
      cold_start: true,
      stage: "discover",
    });
    expect(errors[1]).toMatchObject({ cold_start: false });
    const coldStarts = lines.filter((l) => "ColdStart" in l);
    expect(coldStarts).toHaveLength(1);
    expect(coldStarts[0]).toMatchObject({ ColdStart: 1, function_name: "portwarden-discover" });
  });

  it("passes SDK clients through untouched outside Lambda (the Tracer is off locally and in tests)", async () => {
    const { traceClient } = await import("../../functions/environment.ts");
    const client = new S3Client({ region: "eu-west-1" });
    expect(traceClient(client)).toBe(client);
    expect(client.middlewareStack.identify().some((m) => m.includes("XRay"))).toBe(false);
    client.destroy();
  });
});
