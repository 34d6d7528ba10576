import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { EKSClient } from "@aws-sdk/client-eks";
import { OrganizationsClient } from "@aws-sdk/client-organizations";
import { S3Client } from "@aws-sdk/client-s3";
import { SecurityHubClient } from "@aws-sdk/client-securityhub";
import { SNSClient } from "@aws-sdk/client-sns";
import { STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

/**
 * The one place AWS clients are made (once per cold start / CLI run, per account+region), with
 * retry mode and attempts set here. `AWS_ENDPOINT_URL` (honoured by the SDK) points them at moto
 * in tests; `endpoint` overrides it explicitly.
 */
export interface AwsClientOptions {
  region: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  endpoint?: string;
  /** Default "adaptive": client-side rate limiting on throttling, for fan-out across regions. */
  retryMode?: "standard" | "adaptive";
  maxAttempts?: number;
  /** Wraps every client once it is made (the Lambdas pass the X-Ray Tracer's `captureAWSv3Client`). */
  instrument?: <C extends object>(client: C) => C;
}

function base(options: AwsClientOptions) {
  return {
    region: options.region,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    retryMode: options.retryMode ?? "adaptive",
    maxAttempts: options.maxAttempts ?? 5,
  };
}

/** Lazily made clients for one account+region; each is created once and reused. */
export class AwsClients {
  private readonly cache = new Map<string, unknown>();
  constructor(readonly options: AwsClientOptions) {}

  private get<T>(name: string, make: () => T): T {
    let client = this.cache.get(name) as T | undefined;
    if (!client) {
      const made = make();
      client = this.options.instrument ? this.options.instrument(made as T & object) : made;
      this.cache.set(name, client);
    }
    return client;
  }

  get ec2(): EC2Client {
    return this.get("ec2", () => new EC2Client(base(this.options)));
  }
  get eks(): EKSClient {
    return this.get("eks", () => new EKSClient(base(this.options)));
  }
  get sts(): STSClient {
    return this.get("sts", () => new STSClient(base(this.options)));
  }
  get organizations(): OrganizationsClient {
    return this.get("organizations", () => new OrganizationsClient(base(this.options)));
  }
  get dynamodb(): DynamoDBClient {
    return this.get("dynamodb", () => new DynamoDBClient(base(this.options)));
  }
  get sns(): SNSClient {
    return this.get("sns", () => new SNSClient(base(this.options)));
  }
  get securityhub(): SecurityHubClient {
    return this.get("securityhub", () => new SecurityHubClient(base(this.options)));
  }
  get s3(): S3Client {
    // moto (and any custom endpoint) needs path-style bucket addressing.
    return this.get(
      "s3",
      () =>
        new S3Client({
          ...base(this.options),
          forcePathStyle: Boolean(this.options.endpoint ?? process.env.AWS_ENDPOINT_URL),
        }),
    );
  }

  /** Releases sockets so a CLI process can exit promptly. */
  destroy(): void {
    for (const client of this.cache.values()) (client as { destroy?: () => void }).destroy?.();
    this.cache.clear();
  }
}
