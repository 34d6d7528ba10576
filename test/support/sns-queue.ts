import { CreateTopicCommand, type SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

/**
 * A topic in moto with an SQS queue subscribed (raw delivery): every message SNS accepted lands in
 * the queue once, so counting queue messages per alert id counts what was sent.
 */
export async function topicWithQueue(
  sns: SNSClient,
  sqs: SQSClient,
  name: string,
): Promise<{ topicArn: string; queueUrl: string }> {
  const fifo = name.endsWith(".fifo");
  const { TopicArn } = await sns.send(
    new CreateTopicCommand({ Name: name, ...(fifo ? { Attributes: { FifoTopic: "true" } } : {}) }),
  );
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name.replace(/\.fifo$/, "")}-queue${fifo ? ".fifo" : ""}`,
      ...(fifo ? { Attributes: { FifoQueue: "true" } } : {}),
    }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn,
      Protocol: "sqs",
      Endpoint: Attributes?.QueueArn,
      Attributes: { RawMessageDelivery: "true" },
    }),
  );
  return { topicArn: TopicArn as string, queueUrl: QueueUrl as string };
}

/** Every message body in the queue (received once each: a long visibility timeout). */
export async function receiveAllBodies(sqs: SQSClient, queueUrl: string): Promise<unknown[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
    );
    if (!Messages?.length) break;
    messages.push(...Messages);
  }
  return messages.map((m) => JSON.parse(m.Body ?? "null") as unknown);
}

/** How many messages carried each id. */
export function countById(bodies: readonly unknown[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const body of bodies) {
    const id = String((body as { id?: unknown }).id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * An SQS queue subscribed to `topicArn` with raw delivery and an optional filter policy (a FIFO
 * queue for a FIFO topic): what SNS sent to a subscriber with that filter, unwrapped.
 */
export async function subscribeQueue(
  sns: SNSClient,
  sqs: SQSClient,
  topicArn: string,
  name: string,
  filterPolicy?: object,
): Promise<string> {
  const fifo = topicArn.endsWith(".fifo");
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: fifo ? `${name}.fifo` : name,
      ...(fifo ? { Attributes: { FifoQueue: "true" } } : {}),
    }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  await sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: "sqs",
      Endpoint: Attributes?.QueueArn,
      Attributes: {
        RawMessageDelivery: "true",
        ...(filterPolicy ? { FilterPolicy: JSON.stringify(filterPolicy) } : {}),
      },
    }),
  );
  return QueueUrl as string;
}

/** Every message in the queue with its attributes (received once each: a long visibility timeout). */
export async function receiveAllMessages(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ["All"],
        VisibilityTimeout: 300,
      }),
    );
    if (!Messages?.length) return messages;
    messages.push(...Messages);
  }
}
