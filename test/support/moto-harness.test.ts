import { DescribeRegionsCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsClients } from "../../lib/aws/clients.ts";
import { type Moto, startMoto } from "./moto.ts";

describe("moto harness", () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto.stop();
  });

  it("serves EC2 on loopback through AWS_ENDPOINT_URL", async () => {
    const clients = new AwsClients({ region: "us-east-1" });
    const out = await clients.ec2.send(new DescribeRegionsCommand({}));
    expect(out.Regions?.map((r) => r.RegionName)).toContain("eu-west-1");
    clients.destroy();
  });
});
