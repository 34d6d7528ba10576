import { AssumeRoleCommand, GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";
import { partitionOf, roleArn } from "../contracts/aws-identifiers.ts";

/** Says who assumed the role in the member account's CloudTrail. */
export const SESSION_NAME = "portwarden-discovery";

/**
 * Credentials per account for one round: the scanner's own account uses its own credentials
 * (`undefined`: the default chain), every other account an assumed member role. Each account's
 * AssumeRole happens once per round, however many regions read it; nothing here is ever logged.
 */
export class MemberCredentials {
  private readonly cache = new Map<string, Promise<AwsCredentialIdentity | undefined>>();
  private caller: Promise<{ account: string; partition: string }> | undefined;

  constructor(
    private readonly sts: STSClient,
    private readonly roleName: string,
    private readonly externalId?: string,
  ) {}

  /**
   * Who the scanner's credentials belong to (sts:GetCallerIdentity needs no permission): its account,
   * and the partition (`aws`, `aws-cn`, `aws-us-gov`, ...) every member role ARN is built in.
   */
  private callerIdentity(): Promise<{ account: string; partition: string }> {
    this.caller ??= this.sts.send(new GetCallerIdentityCommand({})).then((r) => {
      if (!r.Account || !r.Arn) throw new Error("GetCallerIdentity returned no account or ARN");
      return { account: r.Account, partition: partitionOf(r.Arn) };
    });
    return this.caller;
  }

  /** The account the scanner's credentials belong to. */
  async scannerAccount(): Promise<string> {
    return (await this.callerIdentity()).account;
  }

  for(account: string): Promise<AwsCredentialIdentity | undefined> {
    let pending = this.cache.get(account);
    if (!pending) {
      pending = this.resolve(account);
      this.cache.set(account, pending);
    }
    return pending;
  }

  private async resolve(account: string): Promise<AwsCredentialIdentity | undefined> {
    // Without the caller's identity there is no partition to build the role ARN in: that error is the account's.
    const caller = await this.callerIdentity();
    if (caller.account === account) return undefined;
    const { Credentials: c } = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn(caller.partition, account, this.roleName),
        RoleSessionName: SESSION_NAME,
        DurationSeconds: 3600,
        ...(this.externalId !== undefined ? { ExternalId: this.externalId } : {}),
      }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error("AssumeRole returned no credentials");
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
  }
}
