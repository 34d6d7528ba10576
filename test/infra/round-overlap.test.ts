import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { Portwarden, type PortwardenProps } from "../../infra/portwarden.ts";
import { propsFromContext } from "../../infra/stacks.ts";

// Deployed rounds never overlap (schedule check + round lock), Notify loops until the outbox is
// empty, and the baseline policy reaches Notify.
function synthesize(props: PortwardenProps): Template {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { account: "111122223333", region: "eu-west-1" } });
  new Portwarden(stack, "Portwarden", props);
  return Template.fromStack(stack);
}

function states(template: Template): Record<string, Record<string, unknown>> {
  const [machine] = Object.values(template.findResources("AWS::StepFunctions::StateMachine"));
  const body = machine?.Properties.DefinitionString as { "Fn::Join": [string, unknown[]] };
  const text = body["Fn::Join"][1].map((part) => (typeof part === "string" ? part : "TOKEN")).join("");
  return JSON.parse(text).States;
}

function environmentOf(template: Template, handler: string): Record<string, unknown> {
  const functions = template.findResources("AWS::Lambda::Function", {
    Properties: {
      Role: { "Fn::GetAtt": [Match.stringLikeRegexp(`^PortwardenNotify|^Portwarden${handler}`), "Arn"] },
    },
  });
  const [fn] = Object.values(functions).filter((f) =>
    JSON.stringify(f.Properties.Role).includes(`Portwarden${handler}Role`),
  );
  return (fn?.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
}

describe("rounds that never overlap and drain any outbox", () => {
  it("loops back to Notify while a pass reports more alerts, then checks the fan-out", () => {
    // Act
    const definition = states(synthesize({}));
    // Assess
    expect(definition["Notify alerts"]?.Next).toBe("More alerts?");
    expect(definition["More alerts?"]).toMatchObject({
      Type: "Choice",
      Choices: [{ Variable: "$.notify.more", BooleanEquals: true, Next: "Notify alerts" }],
      Default: "Fan-out succeeded?",
    });
  });

  it("refuses a schedule whose rounds could overlap, naming the arithmetic", () => {
    // Act
    const overlapping = () => synthesize({ schedule: "rate(1 hour)", roundTimeout: Duration.minutes(55) });
    // Assess
    expect(overlapping).toThrow(
      "schedule: 'rate(1 hour)' is shorter than roundTimeout (55 min) + scheduleWindow (10 min) = 65 min: rounds could overlap",
    );
    expect(() => synthesize({ schedule: "rate(2 hours)", roundTimeout: Duration.minutes(55) })).not.toThrow();
  });

  it("accepts the defaults: an hourly schedule, a 10-minute window and a 50-minute round", () => {
    expect(() => synthesize({})).not.toThrow();
  });

  it("gives Discover the round lock's lease (the round timeout) and Notify the baseline policy", () => {
    // Act
    const template = synthesize({ baseline: { above: 50 } });
    // Assess
    expect(environmentOf(template, "Discover").ROUND_LOCK_SECONDS).toBe("3000");
    expect(JSON.parse(String(environmentOf(template, "Notify").BASELINE))).toEqual({ above: 50 });
  });

  it("passes baseline: false through to Notify", () => {
    expect(environmentOf(synthesize({ baseline: false }), "Notify").BASELINE).toBe("false");
  });

  it("refuses a bad baseline prop, naming the field", () => {
    expect(() => synthesize({ baseline: { worst: 0 } })).toThrow(/baseline\.worst/);
  });

  it("reads the baseline from context keys", () => {
    // Prepare
    const context = (values: Record<string, string>) => (key: string) => values[key];
    // Act / Assess
    expect(propsFromContext(context({ baseline: "false" })).baseline).toBe(false);
    expect(propsFromContext(context({ baselineAbove: "50", baselineFirstRoundAbove: "0" })).baseline).toEqual(
      {
        above: 50,
        firstRoundAbove: 0,
      },
    );
    expect(() => propsFromContext(context({ baselineAbove: "lots" }))).toThrow(
      "context 'baselineAbove': 'lots' is not a whole number",
    );
  });
});
