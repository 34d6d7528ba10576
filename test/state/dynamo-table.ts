import { CreateTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import {
  OUTBOX_INDEX_NAME,
  OUTBOX_PARTITION_KEY,
  OUTBOX_SORT_KEY,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from "../../lib/state/dynamo-schema.ts";

/** Creates the state table exactly as dynamo-schema.ts describes it (as the CDK construct must). */
export async function createStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: PARTITION_KEY, AttributeType: "S" },
        { AttributeName: SORT_KEY, AttributeType: "S" },
        { AttributeName: OUTBOX_PARTITION_KEY, AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: PARTITION_KEY, KeyType: "HASH" },
        { AttributeName: SORT_KEY, KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: OUTBOX_INDEX_NAME,
          KeySchema: [
            { AttributeName: OUTBOX_PARTITION_KEY, KeyType: "HASH" },
            { AttributeName: OUTBOX_SORT_KEY, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
      ],
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    }),
  );
}

/** Names of the DynamoDB commands this client sends from now on, to count writes. */
export function recordCommands(client: DynamoDBClient): string[] {
  const names: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      names.push(String(context.commandName));
      return next(args);
    },
    { step: "initialize", name: "portwardenTestCommandRecorder" },
  );
  return names;
}
