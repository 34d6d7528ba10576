import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { buildApp, propsFromContext } from "../../infra/stacks.ts";
import { InputError } from "../../lib/errors/errors.ts";

const from = (context: Record<string, unknown>) => propsFromContext((key) => context[key]);

describe("context keys → construct props", () => {
  it("splits comma lists given with -c", () => {
    expect(from({ accounts: "111122223333, 444455556666", alertEmails: "a@example.com" })).toEqual({
      accounts: ["111122223333", "444455556666"],
      alertEmails: ["a@example.com"],
    });
  });

  it("accepts JSON arrays and numbers from cdk.json", () => {
    expect(from({ regions: ["eu-west-1"], scannerMemoryMb: 512, organization: true })).toEqual({
      regions: ["eu-west-1"],
      scannerMemoryMb: 512,
      organization: true,
    });
  });

  it("names the key of a number that is not one", () => {
    expect(() => from({ maxConcurrency: "lots" })).toThrow(
      "context 'maxConcurrency': 'lots' is not a whole number",
    );
  });

  it("names the key of a flag that is not true or false", () => {
    expect(() => from({ organization: "yes" })).toThrow(InputError);
    expect(() => from({ organization: "yes" })).toThrow("context 'organization'");
  });

  it("refuses a member-role stack without the external id", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [], scannerAccountId: "111122223333" } });
    expect(() => buildApp(app)).toThrow("context 'externalId': needed with scannerAccountId");
  });

  it("adds the member-role stack when scannerAccountId is given", () => {
    const app = new App({
      context: {
        "aws:cdk:bundling-stacks": [],
        scannerAccountId: "111122223333",
        externalId: "portwarden-7f3a",
      },
    });
    buildApp(app);
    expect(app.node.children.map((c) => c.node.id).sort()).toEqual(["Portwarden", "PortwardenMemberRole"]);
  });
});

describe("unknown context keys", () => {
  it("refuses a misspelled key, suggesting the right one and listing the valid keys", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [], maxConcuurency: "10" } });
    expect(() => buildApp(app)).toThrow(
      /^context 'maxConcuurency': unknown key \(did you mean 'maxConcurrency'\?\); valid keys: accounts, alertEmails, .*targetsPerBatch$/,
    );
  });

  it("lets CDK's own keys through (feature flags, aws:cdk:*, lookups, acknowledgements)", () => {
    const app = new App({
      context: {
        "aws:cdk:bundling-stacks": [],
        "@aws-cdk/core:newStyleStackSynthesis": true,
        "availability-zones:account=111122223333:region=eu-west-1": ["eu-west-1a"],
        "acknowledged-issue-numbers": [32775],
      },
    });
    expect(() => buildApp(app)).not.toThrow();
  });
});

describe("npx cdk synth with a bad context (the real CLI)", () => {
  // Its own output directory: a synth running elsewhere in the checkout holds a lock on cdk.out.
  const synth = (...context: string[]) => {
    const output = mkdtempSync(join(tmpdir(), "pw-cdk-out-"));
    try {
      return spawnSync(
        "npx",
        ["cdk", "synth", "--quiet", "--output", output, ...context.flatMap((c) => ["-c", c])],
        { cwd: join(import.meta.dirname, "..", ".."), encoding: "utf8", timeout: 120_000 },
      );
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  };

  it.each([
    [
      "maxConcuurency=10",
      "portwarden: context 'maxConcuurency': unknown key (did you mean 'maxConcurrency'?); valid keys: ",
    ],
    ["maxConcurrency=lots", "portwarden: context 'maxConcurrency': 'lots' is not a whole number"],
  ])("-c %s fails with one line naming the key and no stack trace", (context, message) => {
    const result = synth(context);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
