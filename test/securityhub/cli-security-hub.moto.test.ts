import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { paginateGetFindings, SecurityHubClient } from "@aws-sdk/client-securityhub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../lib/cli/main.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import { PortSet } from "../../lib/ports/port-set.ts";
import { type Moto, startMoto } from "../support/moto.ts";

// `portwarden run --security-hub` on an inventory whose only finding is a public EKS endpoint:
// nothing is scanned, the finding lands in (moto's) Security Hub of the caller's account.
const INVENTORY: Inventory = {
  clusters: [
    {
      account: "111122223333",
      region: "eu-west-1",
      name: "prod",
      kind: "eks",
      endpoint: {
        url: "https://abc.eks.amazonaws.com",
        publicAccess: true,
        privateAccess: false,
        publicAccessCidrs: ["0.0.0.0/0"],
      },
      nodes: [{ instanceId: "i-1", publicIps: [], internetAllowed: PortSet.EMPTY }],
    },
  ],
  errors: [],
};

let moto: Moto;
let dir: string;
beforeAll(async () => {
  moto = await startMoto();
  dir = await mkdtemp(join(tmpdir(), "portwarden-hub-"));
});
afterAll(async () => {
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("portwarden run --security-hub", () => {
  it("imports the round's new findings into Security Hub in the caller's account and --region", async () => {
    const inventory = join(dir, "inventory.json");
    await writeFile(inventory, JSON.stringify(INVENTORY));
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t), interactive: false };
    const args = [
      "run",
      "--inventory",
      inventory,
      "--state",
      join(dir, "state.json"),
      "--security-hub",
      "--region",
      "us-west-2",
    ];
    expect(await main(args, io)).toBe(0);
    const client = new SecurityHubClient({ region: "us-west-2" });
    const findings = [];
    for await (const page of paginateGetFindings({ client }, {})) findings.push(...(page.Findings ?? []));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      AwsAccountId: "123456789012",
      ProductArn: "arn:aws:securityhub:us-west-2:123456789012:product/123456789012/default",
      GeneratorId: "portwarden/eks-public-endpoint",
      RecordState: "ACTIVE",
      Severity: { Label: "HIGH" },
    });
    expect(findings[0]?.Resources?.[0]?.Id).toBe("arn:aws:eks:eu-west-1:111122223333:cluster/prod");
    expect(out.join("")).toContain("eks-api-endpoint");
  });
});
