import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { FanOutNotifier } from "../alerts/fanout-notifier.ts";
import type { Notifier } from "../alerts/types.ts";
import type { AwsClients } from "../aws/clients.ts";
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
    partition: identity.Arn?.split(":")[1] ?? "aws",
  };
  assertDestination(destination);
  return destination;
}

/** `notifier` plus Security Hub in the clients' account and region (CLI `--security-hub`, Lambdas with SECURITY_HUB=true). */
export async function withSecurityHub(
  notifier: Notifier,
  clients: AwsClients,
  onRejected: (rejected: { id: string; error: string }[]) => void,
): Promise<Notifier> {
  const destination = await scannerDestination(clients.sts, clients.options.region);
  return new FanOutNotifier([
    notifier,
    new SecurityHubNotifier({ client: clients.securityhub, destination, onRejected }),
  ]);
}
