import { AssumeRoleCommand, GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";

/** Says who assumed the role in the member account's CloudTrail. */
export const SESSION_NAME = "portwarden-discovery";

/**
 * Credentials per account for one round: the scanner's own account uses its own credentials
 * (`undefined`: the default chain), every other account an assumed member role. Each account's
 * AssumeRole happens once per round, however many regions read it; nothing here is ever logged.
 */
export class MemberCredentials {
  private readonly cache = new Map<string, Promise<AwsCredentialIdentity | undefined>>();
  private ownAccount: Promise<string> | undefined;

  constructor(
    private readonly sts: STSClient,
    private readonly roleName: string,
    private readonly externalId?: string,
  ) {}

  /** The account the scanner's credentials belong to (sts:GetCallerIdentity needs no permission). */
  scannerAccount(): Promise<string> {
    this.ownAccount ??= this.sts.send(new GetCallerIdentityCommand({})).then((r) => {
      if (!r.Account) throw new Error("GetCallerIdentity returned no account");
      return r.Account;
    });
    return this.ownAccount;
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
    if ((await this.scannerAccount().catch(() => undefined)) === account) return undefined;
    const { Credentials: c } = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${account}:role/${this.roleName}`,
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
