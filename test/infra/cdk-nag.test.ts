import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../infra/stacks.ts";
import { errorMessage } from "../../lib/errors/errors.ts";

/** The whole app as `cdk synth` builds it (both stacks, a pager and an email), checked by both packs. */
function synthWithNag(outdir: string, context: Record<string, string>) {
  const app = new App({ outdir, context: { "aws:cdk:bundling-stacks": [], ...context } });
  buildApp(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return () => app.synth();
}

describe("cdk-nag", () => {
  const outdir = mkdtempSync(join(tmpdir(), "portwarden-nag-"));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("finds nothing unacknowledged in the AwsSolutions and Serverless packs", () => {
    // Prepare
    const synth = synthWithNag(outdir, {
      alertEmails: "secops@example.com",
      pagerUrl: "https://pager.example.com/hook",
      accounts: "111122223333,444455556666",
      scannerAccountId: "111122223333",
      externalId: "portwarden-7f3a",
      securityHub: "true",
      eventRescans: "true",
      scannerEventBusArn: "arn:aws:events:us-east-1:111122223333:event-bus/portwarden-changes",
    });
    // Act
    let failure: unknown;
    try {
      synth();
    } catch (error) {
      failure = error;
    }
    // Assess: on failure the message lists each finding and its rule id
    expect(failure === undefined ? "" : errorMessage(failure)).toBe("");
  });

  it("fails when a finding is not acknowledged (the check can fail)", async () => {
    // Prepare: a bucket without any of the construct's hardening
    const { Stack } = await import("aws-cdk-lib");
    const { Bucket } = await import("aws-cdk-lib/aws-s3");
    const app = new App({ outdir: mkdtempSync(join(outdir, "bad-")) });
    new Bucket(new Stack(app, "Bad"), "Open");
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // Act / Assess
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
  });
});
