import {
  type AwsSecurityFinding,
  BatchImportFindingsCommand,
  BatchUpdateFindingsCommand,
  SecurityHubClient,
} from "@aws-sdk/client-securityhub";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { consoleLine } from "../../lib/alerts/format.ts";
import {
  charCount,
  EVIDENCE_MAX_CHARS,
  FIX_MAX_CHARS,
  PORT_SPEC_MAX_CHARS,
  TAG_KEY_MAX_CHARS,
  TAG_VALUE_MAX_CHARS,
  TAGS_PER_RESOURCE_MAX,
} from "../../lib/contracts/limits.ts";
import { toAsff } from "../../lib/securityhub/asff.ts";
import { SecurityHubNotifier } from "../../lib/securityhub/publisher.ts";
import { alertEvent } from "../alerts/events.ts";

const TO = { account: "123456789012", region: "us-east-1", partition: "aws" };
/** BatchImportFindings refuses a finding over 240 KB (API reference). */
const ASFF_FINDING_MAX_BYTES = 240 * 1000;

describe("ASFF Resources[].Tags", () => {
  it("puts the node's tags on the EC2 instance resource only", () => {
    const tags = { Name: "prod-node-1", "eks:nodegroup-name": "ng-1", team: "payments" };
    const finding = toAsff(alertEvent({}, { tags }), TO);
    expect(finding.Resources?.[0]).toMatchObject({ Type: "AwsEc2Instance", Tags: tags });
    expect(finding.Resources?.[1]?.Type).toBe("AwsEksCluster");
    expect(finding.Resources?.[1]).not.toHaveProperty("Tags");
  });

  it("leaves Tags out for a node without tags (records written before tags were kept)", () => {
    expect(toAsff(alertEvent(), TO).Resources?.[0]).not.toHaveProperty("Tags");
  });

  it("holds AWS's tag limits whatever a record carries: 50 tags, keys 1-128, values up to 256 characters", () => {
    // A record from another writer (or a hand-edited state file) with more than a finding may hold.
    const tags: Record<string, string> = { ["k".repeat(129)]: "key too long", "": "empty key" };
    for (let i = 0; i < 70; i++) tags[`t${String(i).padStart(2, "0")}`] = "v".repeat(300);
    const resourceTags = toAsff(alertEvent({}, { tags }), TO).Resources?.[0]?.Tags ?? {};
    const entries = Object.entries(resourceTags);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.length).toBeLessThanOrEqual(TAGS_PER_RESOURCE_MAX);
    for (const [key, value] of entries) {
      expect(charCount(key)).toBeGreaterThanOrEqual(1);
      expect(charCount(key)).toBeLessThanOrEqual(TAG_KEY_MAX_CHARS);
      expect(charCount(value)).toBeLessThanOrEqual(TAG_VALUE_MAX_CHARS);
    }
  });

  it("stays far under the 240 KB finding limit with every field and 50 tags at their longest", () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < 50; i++) tags[`${i}${"🔑".repeat(126)}`] = "🌍".repeat(256);
    const event = alertEvent(
      {},
      {
        kind: "latent",
        portSpec: "1-3,".repeat(PORT_SPEC_MAX_CHARS / 4),
        evidence: "e".repeat(EVIDENCE_MAX_CHARS),
        fix: "f".repeat(FIX_MAX_CHARS),
        service: "s".repeat(100),
        cluster: "c".repeat(256),
        tags,
      },
    );
    const bytes = Buffer.byteLength(JSON.stringify(toAsff(event, TO)));
    expect(bytes).toBeLessThan(ASFF_FINDING_MAX_BYTES / 10);
  });

  it("shows the node's Name tag next to its instance id in the alert line", () => {
    const line = consoleLine(alertEvent({}, { tags: { Name: "prod-node-1\u202e" } }));
    expect(line).toContain("node i-0abc123 (prod-node-1)");
  });
});

const hubMock = mockClient(SecurityHubClient);

describe("a finding Security Hub refuses because of its tags", () => {
  afterEach(() => {
    hubMock.reset();
  });

  it("is imported again without Resources[].Tags, and the refusal is reported", async () => {
    hubMock.on(BatchImportFindingsCommand).callsFake((input: { Findings: AwsSecurityFinding[] }) => {
      const tagged = input.Findings.filter((f) => f.Resources?.some((r) => r.Tags));
      return {
        SuccessCount: input.Findings.length - tagged.length,
        FailedCount: tagged.length,
        FailedFindings: tagged.map((f) => ({ Id: f.Id, ErrorCode: "InvalidInput", ErrorMessage: "Tags" })),
      };
    });
    hubMock.on(BatchUpdateFindingsCommand).resolves({ ProcessedFindings: [], UnprocessedFindings: [] });
    const rejected: { id: string; error: string }[] = [];
    const hub = new SecurityHubNotifier({
      client: new SecurityHubClient({ region: "us-east-1" }),
      destination: TO,
      onRejected: (r) => rejected.push(...r),
    });
    const out = await hub.publish([
      alertEvent({ id: "tagged" }, { tags: { Name: "n" } }),
      alertEvent({ id: "plain" }, { ip: "127.0.2.2" }),
    ]);
    expect(out).toEqual({ accepted: ["tagged", "plain"], failed: [] });
    const calls = hubMock.commandCalls(BatchImportFindingsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input.Findings?.map((f) => f.Id)).toEqual(["portwarden/127.0.2.1#10250"]);
    expect(calls[1]?.args[0].input.Findings?.[0]?.Resources?.[0]).not.toHaveProperty("Tags");
    expect(rejected).toEqual([
      { id: "portwarden/127.0.2.1#10250", error: "imported without Resources[].Tags: InvalidInput: Tags" },
    ]);
  });
});
