import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { FanOutNotifier } from "../alerts/fanout-notifier.ts";
import type { Notifier, PublishOutcome, RoundSummary } from "../alerts/types.ts";
import type { AwsClients } from "../aws/clients.ts";
import { partitionOf } from "../contracts/aws-identifiers.ts";
import type { AlertEvent } from "../findings/types.ts";
import { assertDestination, type SecurityHubDestination } from "./asff.ts";
import { SecurityHubNotifier } from "./publisher.ts";

/**
 * The scanner's own account (sts:GetCallerIdentity, which needs no permission) and partition, in
 * `region`: the only place a custom integration may import findings (see asff.ts).
 */
export async function scannerDestination(sts: STSClient, region: string): Promise<SecurityHubDestination> {
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  const destination = {
    account: identity.Account ?? "",
    region,
    partition: partitionOf(identity.Arn ?? ""),
  };
  assertDestination(destination);
  return destination;
}

/** A SecurityHubNotifier for the caller's account, made on first use (no STS call when no alert is due). */
class CallerSecurityHubNotifier implements Notifier {
  private made: Promise<SecurityHubNotifier> | undefined;
  constructor(
    private readonly clients: AwsClients,
    private readonly onRejected: (rejected: { id: string; error: string }[]) => void,
  ) {}

  async publish(events: readonly AlertEvent[]): Promise<PublishOutcome> {
    this.made ??= scannerDestination(this.clients.sts, this.clients.options.region).then(
      (destination) =>
        new SecurityHubNotifier({
          client: this.clients.securityhub,
          destination,
          onRejected: this.onRejected,
        }),
    );
    this.made.catch(() => {
      this.made = undefined; // a failed identity lookup is retried next time
    });
    return (await this.made).publish(events);
  }

  async summary(_summary: RoundSummary): Promise<void> {}
}

/**
 * `notifier` plus Security Hub in the clients' account and region (CLI `--security-hub`, Lambdas
 * with SECURITY_HUB=true); `notifier` alone when `enabled` is false.
 */
export function withSecurityHub(
  notifier: Notifier,
  enabled: boolean,
  clients: () => AwsClients,
  onRejected: (rejected: { id: string; error: string }[]) => void,
): Notifier {
  return enabled
    ? new FanOutNotifier([notifier, new CallerSecurityHubNotifier(clients(), onRejected)])
    : notifier;
}
