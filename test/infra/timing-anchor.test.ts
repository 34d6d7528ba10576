import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { Portwarden, type PortwardenProps } from "../../infra/portwarden.ts";

function scanEnvironments(props: PortwardenProps): Record<string, Record<string, unknown>> {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "111122223333", region: "eu-west-1" } });
  new Portwarden(stack, "Portwarden", { eventRescans: true, ...props });
  const functions = Template.fromStack(stack).findResources("AWS::Lambda::Function");
  const out: Record<string, Record<string, unknown>> = {};
  for (const [id, fn] of Object.entries(functions)) out[id] = fn.Properties.Environment?.Variables ?? {};
  return out;
}

const anchorsOf = (envs: Record<string, Record<string, unknown>>) =>
  Object.entries(envs)
    .filter(([, env]) => "TIMING_ANCHOR" in env)
    .map(([id, env]) => [id.replace(/[0-9A-F]{8}$/, ""), env.TIMING_ANCHOR]);

describe("the timingAnchor prop", () => {
  it("gives Scan and Rescan the region endpoint by default, and what the prop says otherwise", () => {
    expect(anchorsOf(scanEnvironments({})).sort()).toEqual([
      ["PortwardenEventRescansRescan", "region-endpoint"],
      ["PortwardenScan", "region-endpoint"],
    ]);
    expect(anchorsOf(scanEnvironments({ timingAnchor: "off" })).map(([, v]) => v)).toEqual(["off", "off"]);
  });

  it("refuses a bad anchor at synth time, naming the prop", () => {
    expect(() => scanEnvironments({ timingAnchor: "ec2" })).toThrow(/^timingAnchor: 'ec2' is not off/);
    expect(() => scanEnvironments({ timingAnchor: "169.254.169.254:80" })).toThrow(
      /timingAnchor: .*never scanned/,
    );
  });
});
