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
