import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { SEVERITIES, type Severity } from "../lib/catalog/severity.ts";
import { type BaselineConfig, baselineConfigSchema } from "../lib/config/config-file.ts";
import { parseInput } from "../lib/config/zod-input.ts";
import {
  assertAccountId,
  assertExternalId,
  assertRegion,
  assertRoleName,
} from "../lib/contracts/aws-identifiers.ts";
import {
  DEFAULT_DISCOVERY_ROLE_NAME,
  DEFAULT_MEMBER_ROLE_NAME,
  RESCAN_TIMING,
} from "../lib/contracts/deployment.ts";
import { MAX_TARGETS_PER_BATCH } from "../lib/contracts/lambda-events.ts";
import { MAX_COVERAGE_SLICES } from "../lib/coverage/coverage.ts";
import { InputError } from "../lib/errors/errors.ts";
import { PortSet } from "../lib/ports/port-set.ts";
import { DEFAULT_PORT_SPEC, parsePortSpec } from "../lib/ports/port-spec.ts";
import { DEFAULT_BASELINE_POLICY } from "../lib/round/notify-stage.ts";
import { DEFAULT_TIMING_ANCHOR, parseTimingAnchor } from "../lib/scan/timing-anchor-setting.ts";
import { checkRoundBudget } from "./round-budget.ts";

export interface PortwardenProps {
  /**
   * When rounds start: `rate(N unit)` or a 6-field `cron(...)` (EventBridge Scheduler). A rate
   * must leave room for a whole round: period ≥ roundTimeout + scheduleWindow. Default: `rate(1 hour)`.
   */
  readonly schedule?: string;
  /** Scheduler may start a round anywhere in this window (spreads load). Default: 10 minutes. */
  readonly scheduleWindow?: Duration;
  /** Accounts to scan (12 digits each). Default: the stack's own account. */
  readonly accounts?: string[];
  /** Scan every active account of the AWS Organization (needs organizations:ListAccounts). Default: false. */
  readonly organization?: boolean;
  /** Regions to scan. Default: every region enabled in each account (ec2:DescribeRegions). */
  readonly regions?: string[];
  /** The read-only role in each member account. Default: `PortwardenMemberRole`. */
  readonly memberRoleName?: string;
  /**
   * `sts:ExternalId` the member roles require (2-1224 characters of letters, digits and +=,.@:/_-).
   * Default: generated per stack (`portwarden-` + the stack id's UUID), never a constant everyone
   * knows; the stack outputs it (`ExternalId`) for the member roles.
   */
  readonly externalId?: string;
  /** Name of the role that assumes the member roles (member stacks trust it). Default: `portwarden-discovery`. */
  readonly discoveryRoleName?: string;
  /** Port SPEC scanned per node, e.g. `kubernetes,8000-8100` or `all`. Default: `kubernetes`. */
  readonly ports?: string;
  /** Email subscribers (each must confirm the subscription mail). Default: none. */
  readonly alertEmails?: string[];
  /** An HTTPS pager endpoint subscribed to the topic. Default: none. */
  readonly pagerUrl?: string;
  /** Severities the pager receives (a `severity` filter policy). Default: critical and high. */
  readonly pagerSeverities?: Severity[];
  /**
   * Scan Lambda memory in MB (128-10240). Default: 256: a batch is CPU-bound where nodes answer and
   * waits where they are silent, so GB-seconds hardly change with memory (`npm run bench:fleet`).
   */
  readonly scannerMemoryMb?: number;
  /** Scan Lambda timeout (1-15 minutes); its deadline is the remaining time minus a margin. Default: 10 minutes. */
  readonly scannerTimeout?: Duration;
  /** Scan Lambdas running at once (1-10000). Default: 100 (the cost does not depend on it, the round time does). */
  readonly maxConcurrency?: number;
  /**
   * IPs per scan invocation (1-50; they share one socket budget and group timing). Default: 48:
   * a Step Functions child per 48 nodes instead of per 4 is most of the saving (`npm run bench:fleet`).
   */
  readonly targetsPerBatch?: number;
  /**
   * How many nodes the round is sized for: the construct refuses settings whose worst case
   * (every node silent) cannot finish within the schedule period and `roundTimeout`. Default: 10,000.
   */
  readonly expectedNodes?: number;
  /**
   * Every node's full 1-65535 is covered within this many hours: each round adds one slice of the
   * ports outside `ports` (slices = period / schedule interval; with a `cron(...)` schedule one slice
   * per hour is assumed). 0: off. Ignored with `ports: "all"`. Default: 24.
   */
  readonly coveragePeriodHours?: number;
  /**
   * Where nodes that answer nothing borrow an RTT from (README, "The scan engine"): `region-endpoint`
   * (each public node's region's EC2 endpoint, port 443), `off`, or `HOST:PORT`. Default: `region-endpoint`.
   */
  readonly timingAnchor?: string;
  /** Percent of scan batches that may fail before the round fails. Default: 10. */
  readonly toleratedFailurePercentage?: number;
  /** A round (one execution) is stopped after this long (5 minutes to 24 hours). Default: 50 minutes. */
  readonly roundTimeout?: Duration;
  /** Lambda and state machine log retention. Default: one month. */
  readonly logRetention?: RetentionDays;
  /** Round data (target lists, map results) in S3 expires after this many days (1-3650). Default: 14. */
  readonly roundDataRetentionDays?: number;
  /**
   * Baseline digests (README "Baseline round"): a cluster's first round with more than
   * `firstRoundAbove` new alerts, or any round with more than `above` in one cluster, sends one
   * digest listing the `worst` findings instead of an alert each. `false` turns digests off.
   * Default: `{ firstRoundAbove: 3, above: 20, worst: 10 }`.
   */
  readonly baseline?: BaselineConfig | false;
  /** Removal policy of the state table (exposure history). Default: RETAIN. */
  readonly stateRemovalPolicy?: RemovalPolicy;
  /** Also import new/resolved findings into AWS Security Hub (this account and region). Default: false. */
  readonly securityHub?: boolean;
  /** Rescan nodes minutes after member accounts report a change (EventBridge → SQS → Lambda). Default: false. */
  readonly eventRescans?: boolean;
  /** With `eventRescans` and `organization`: the organization whose accounts may send change events (`o-…`). */
  readonly organizationId?: string;
  /** With `eventRescans`: how long a burst of changes is gathered into one rescan (0-300 s). Default: 60 seconds. */
  readonly rescanBatchingWindow?: Duration;
}

/** Every prop with its default applied, each checked: what the construct builds from. */
export type ResolvedPortwardenProps = Required<Omit<PortwardenProps, "pagerUrl" | "organizationId">> & {
  readonly pagerUrl: string | undefined;
  readonly organizationId: string | undefined;
  /** Coverage slices per full range (0: off), from coveragePeriodHours and the schedule. */
  readonly coverageSlices: number;
};

function checkTimingAnchor(text: string): string {
  parseTimingAnchor(text, "timingAnchor");
  return text.trim();
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((\S+ ){5}\S+\)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function checkSchedule(schedule: string): string {
  const rate = RATE.exec(schedule);
  if (rate) {
    const [, amount, unit] = rate;
    if (Number(amount) < 1 || (Number(amount) === 1) !== !unit?.endsWith("s") || Number(amount) > 100_000)
      throw new InputError("schedule", `'${schedule}': use 'rate(1 hour)' or 'rate(2 hours)' style`);
    if (unit?.startsWith("minute") && Number(amount) < 15)
      throw new InputError("schedule", `'${schedule}': rounds closer than 15 minutes would overlap`);
    return schedule;
  }
  if (!CRON.test(schedule))
    throw new InputError("schedule", `'${schedule}' is neither 'rate(N unit)' nor a 6-field 'cron(...)'`);
  return schedule;
}

const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/** Seconds between rounds of a `rate(...)` schedule; undefined for `cron(...)`. */
export function schedulePeriodSeconds(schedule: string): number | undefined {
  const rate = RATE.exec(schedule);
  if (!rate) return undefined;
  return Number(rate[1]) * (UNIT_SECONDS[(rate[2] ?? "").replace(/s$/, "")] ?? 0);
}

/**
 * Rounds never overlap (the round lock in the state table is the second line): the scheduler may
 * start a round up to `window` late, so the next may come `period - window` after it.
 */
function checkNoOverlap(schedule: string, window: Duration, roundTimeout: Duration): void {
  const period = schedulePeriodSeconds(schedule);
  if (period === undefined) return;
  const needed = roundTimeout.toMinutes() + window.toMinutes();
  if (period / 60 < needed)
    throw new InputError(
      "schedule",
      `'${schedule}' is shorter than roundTimeout (${roundTimeout.toMinutes()} min) + scheduleWindow (${window.toMinutes()} min) = ${needed} min: rounds could overlap`,
    );
}

function checkRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new InputError(field, `${value} is not an integer from ${min} to ${max}`);
  return value;
}

function checkEach(
  field: string,
  values: readonly string[],
  check: (value: string, field: string) => unknown,
) {
  for (const [i, value] of values.entries()) check(value, `${field}[${i}]`);
  return [...values];
}

function checkEmail(email: string, field: string): void {
  if (!EMAIL.test(email)) throw new InputError(field, `'${email}' is not an email address`);
}

function checkSeverity(severity: string, field: string): void {
  if (!SEVERITIES.includes(severity as Severity))
    throw new InputError(field, `'${severity}' is not one of ${SEVERITIES.join(", ")}`);
}

function checkPagerUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError("pagerUrl", `'${url}' is not a URL`);
  }
  if (parsed.protocol !== "https:") throw new InputError("pagerUrl", `'${url}' must use https://`);
  return url;
}

/**
 * Synth-time validation: defaults applied, each prop checked by the same identifier rules the
 * handlers and the CLI use (lib/contracts). A bad prop stops `cdk synth` naming the prop.
 */
export function resolvePortwardenProps(
  props: PortwardenProps,
  generatedExternalId: () => string,
): ResolvedPortwardenProps {
  const accounts = checkEach("accounts", props.accounts ?? [], assertAccountId);
  const organization = props.organization ?? false;
  if (organization && accounts.length > 0)
    throw new InputError("organization", "give either accounts or organization, not both");
  const ports = props.ports ?? DEFAULT_PORT_SPEC;
  if (props.externalId !== undefined) assertExternalId(props.externalId, "externalId");
  const externalId = props.externalId ?? generatedExternalId();
  const pagerSeverities = checkEach(
    "pagerSeverities",
    props.pagerSeverities ?? ["critical", "high"],
    checkSeverity,
  );
  if (pagerSeverities.length === 0)
    throw new InputError("pagerSeverities", "must name at least one severity");
  const scannerTimeout = props.scannerTimeout ?? Duration.minutes(10);
  checkRange("scannerTimeout (seconds)", scannerTimeout.toSeconds(), 60, 900);
  const roundTimeout = props.roundTimeout ?? Duration.minutes(50);
  checkRange("roundTimeout (minutes)", roundTimeout.toMinutes(), 5, 24 * 60);
  const schedule = checkSchedule(props.schedule ?? "rate(1 hour)");
  const scheduleWindow = props.scheduleWindow ?? Duration.minutes(10);
  const baseline =
    props.baseline === undefined
      ? { ...DEFAULT_BASELINE_POLICY }
      : parseInput(baselineConfigSchema, props.baseline, "baseline");
  const scannerMemoryMb = checkRange("scannerMemoryMb", props.scannerMemoryMb ?? 256, 128, 10_240);
  const maxConcurrency = checkRange("maxConcurrency", props.maxConcurrency ?? 100, 1, 10_000);
  const targetsPerBatch = checkRange(
    "targetsPerBatch",
    props.targetsPerBatch ?? 48,
    1,
    MAX_TARGETS_PER_BATCH,
  );
  const expectedNodes = checkRange("expectedNodes", props.expectedNodes ?? 10_000, 1, 100_000);
  const coveragePeriodHours = checkRange("coveragePeriodHours", props.coveragePeriodHours ?? 24, 0, 24 * 366);
  const portSet = parsePortSpec(ports, "ports");
  const period = schedulePeriodSeconds(schedule);
  const coverageSlices =
    coveragePeriodHours === 0 || portSet.equals(PortSet.ALL)
      ? 0
      : Math.min(
          MAX_COVERAGE_SLICES,
          Math.max(1, Math.floor((coveragePeriodHours * 3600) / (period ?? 3600))),
        );
  checkRoundBudget({
    expectedNodes,
    targetsPerBatch,
    maxConcurrency,
    scannerMemoryMb,
    scannerTimeoutSeconds: scannerTimeout.toSeconds(),
    portsPerNode: portSet.size + (coverageSlices > 0 ? Math.ceil(65535 / coverageSlices) : 0),
    roundBudgetSeconds: Math.min(roundTimeout.toSeconds(), period ?? Number.POSITIVE_INFINITY),
  });
  // After the budget: a schedule too short for the nodes is the more useful message.
  checkNoOverlap(schedule, scheduleWindow, roundTimeout);
  return {
    schedule,
    scheduleWindow,
    baseline,
    accounts,
    organization,
    regions: checkEach("regions", props.regions ?? [], assertRegion),
    memberRoleName: assertRoleName(props.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME, "memberRoleName"),
    externalId,
    discoveryRoleName: assertRoleName(
      props.discoveryRoleName ?? DEFAULT_DISCOVERY_ROLE_NAME,
      "discoveryRoleName",
    ),
    ports,
    alertEmails: checkEach("alertEmails", props.alertEmails ?? [], checkEmail),
    pagerUrl: props.pagerUrl !== undefined ? checkPagerUrl(props.pagerUrl) : undefined,
    pagerSeverities: pagerSeverities as Severity[],
    scannerMemoryMb,
    scannerTimeout,
    maxConcurrency,
    targetsPerBatch,
    expectedNodes,
    coveragePeriodHours,
    coverageSlices,
    timingAnchor: checkTimingAnchor(props.timingAnchor ?? DEFAULT_TIMING_ANCHOR),
    toleratedFailurePercentage: checkRange(
      "toleratedFailurePercentage",
      props.toleratedFailurePercentage ?? 10,
      0,
      100,
    ),
    roundTimeout,
    logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
    roundDataRetentionDays: checkRange("roundDataRetentionDays", props.roundDataRetentionDays ?? 14, 1, 3650),
    stateRemovalPolicy: props.stateRemovalPolicy ?? RemovalPolicy.RETAIN,
    securityHub: props.securityHub ?? false,
    eventRescans: props.eventRescans ?? false,
    organizationId: props.organizationId,
    rescanBatchingWindow: props.rescanBatchingWindow ?? Duration.seconds(RESCAN_TIMING.batchingWindow),
  };
}
