import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeRegionsCommand } from "@aws-sdk/client-ec2";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { AwsClients } from "../../lib/aws/clients.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { useMoto } from "./moto.ts";

describe("moto harness", () => {
  useMoto();

  it("serves EC2 on loopback through AWS_ENDPOINT_URL", async () => {
    const clients = new AwsClients({ region: "us-east-1" });
    const out = await clients.ec2.send(new DescribeRegionsCommand({}));
    expect(out.Regions?.map((r) => r.RegionName)).toContain("eu-west-1");
    clients.destroy();
  });

  it("applies a conditional write for exactly one of three concurrent writers, as DynamoDB does", async () => {
    // Prepare: the outbox claim's pattern (same version condition) on fresh items.
    const client = new DynamoDBClient({ region: "us-east-1" });
    const documents = DynamoDBDocumentClient.from(client);
    await createStateTable(client, "harness-race");
    const winners: number[] = [];
    // Act: with moto's plain server about 1 round in 100 had two winners; 400 rounds catch it.
    for (let round = 0; round < 400; round++) {
      const Key = { pk: `IP#${round}`, sk: "PORT#00001" };
      await documents.send(new PutCommand({ TableName: "harness-race", Item: { ...Key, version: 1 } }));
      const won = await Promise.all(
        ["a", "b", "c"].map((owner) =>
          documents
            .send(
              new UpdateCommand({
                TableName: "harness-race",
                Key,
                UpdateExpression: "SET #owner = :owner, #version = :next",
                ConditionExpression: "#version = :read",
                ExpressionAttributeNames: { "#owner": "owner", "#version": "version" },
                ExpressionAttributeValues: { ":owner": owner, ":next": 2, ":read": 1 },
              }),
            )
            .then(
              () => 1,
              (error: unknown) => {
                if (error instanceof ConditionalCheckFailedException) return 0;
                throw error;
              },
            ),
        ),
      );
      winners.push(won.reduce((sum, n) => sum + n, 0));
    }
    client.destroy();
    // Assess
    expect(winners.filter((n) => n !== 1)).toEqual([]);
  }, 120_000);
});
