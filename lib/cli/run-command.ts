import { dirname, join } from "node:path";
import { ConsoleNotifier } from "../alerts/console-notifier.ts";
import { consoleLine, safeText, summaryLine } from "../alerts/format.ts";
import { SnsNotifier } from "../alerts/sns-notifier.ts";
import type { Notifier } from "../alerts/types.ts";
import { AwsClients } from "../aws/clients.ts";
import { atLeast, isSeverity, SEVERITIES, type Severity } from "../catalog/severity.ts";
import { loadConfigFile, type PortwardenConfig } from "../config/config-file.ts";
import { loadInventoryFile } from "../config/inventory-file.ts";
import { assertRegion } from "../contracts/aws-identifiers.ts";
import {
  markSliceOutcome,
  planCoverage,
  validateSliceCount,
  withCoverageSlice,
} from "../coverage/coverage.ts";
import { FileCoverageStore } from "../coverage/coverage-stores.ts";
import { type DiscoveryOptions, discoverInventory } from "../discovery/discover.ts";
import type { Inventory } from "../discovery/types.ts";
import { InputError } from "../errors/errors.ts";
import type { DiffPolicy } from "../findings/diff.ts";
import {
  type AddressPolicy,
  ALLOW_INTERNAL,
  PUBLIC_ONLY,
  refuseNamedForbidden,
} from "../net/address-policy.ts";
import { PortSet } from "../ports/port-set.ts";
import { DEFAULT_PORT_SPEC, parsePortSpec } from "../ports/port-spec.ts";
import { probeOpenPorts } from "../probes/probe-open-ports.ts";
import { type IncompleteReason, newRoundId, type RoundReport, runRound } from "../round/run-round.ts";
import {
  MAX_TARGET_ADDRESSES,
  parseTargetList,
  type ScanTarget,
  targetsFromHosts,
  targetsFromInventory,
} from "../round/targets.ts";
import { resolveTargets, scanHosts } from "../scan/scanner.ts";
import { DEFAULT_TIMING_ANCHOR, parseTimingAnchor } from "../scan/timing-anchor-setting.ts";
import { withSecurityHub } from "../securityhub/destination.ts";
import { DynamoStateStore } from "../state/dynamo-state-store.ts";
import { DEFAULT_STATE_PATH, FileStateStore } from "../state/file-state-store.ts";
import type { StateStore } from "../state/types.ts";
import { sanitizeDeep } from "../text/sanitize.ts";
import { parseCommandArgs } from "./args.ts";
import { paintLines } from "./colour.ts";
import { checkInputFile, prepareStatePath } from "./files.ts";
import type { CliIo } from "./io.ts";
import { discoveryProgressLine, progressLine } from "./progress.ts";
import { parsePositiveNumber } from "./scan-command.ts";

const HELP = `Usage: portwarden run [--targets H,H | --inventory FILE] [options]

One scan round: targets → TCP scan → probes → findings → diff with state → alerts.
Targets (when neither is given: AWS discovery of the clusters in this account, every enabled region;
for other accounts run 'portwarden inventory --accounts ...' and pass its JSON with --inventory):
  --targets H,H        IPs, CIDRs (expanded, at most ${MAX_TARGET_ADDRESSES} addresses) or host names; no
                       security-group data, so open ports count as exposed. Not host:port, not a-b ranges.
  --inventory FILE     the JSON of 'portwarden inventory --json' (nodes, public IPs, SG-allowed ports)
State and alerts:
  --state PATH         JSON state file (default ${DEFAULT_STATE_PATH}; only that directory is created)
  --table NAME         DynamoDB table instead of the state file
  --sns-topic-arn ARN  publish alerts to this SNS topic instead of printing them (the summary is printed)
  --security-hub       also import new/resolved findings into AWS Security Hub (this account, --region)
  --region R           AWS region for --table, --security-hub and discovery (default $AWS_REGION;
                       SNS uses the ARN's)
Options:
  --ports SPEC         ports, ranges and profiles: kubernetes (default), all, e.g. kubernetes,8000-8100
  --config FILE        suppressions and diff policy (see README, "Suppressions")
  --max-seconds S      stop scanning after S seconds; unfinished scans resolve nothing
  --coverage-slices N  also scan 1/N of 1-65535 each run, the slice scanned longest ago, so N runs
                       cover every port (e.g. 24 with hourly runs: full range daily); the record of
                       when each slice was scanned is --coverage-file (default beside the state file)
  --fail-on SEVERITY   exit 3 while any open exposure is at or above SEVERITY (${SEVERITIES.join(", ")})
  --allow-private      also scan loopback/private addresses from --inventory or discovery
                       (--targets may always name them; link-local/metadata never)
  --timing-anchor A    where nodes that answer nothing borrow an RTT: region-endpoint (default: the
                       EC2 endpoint of each public node's region, ec2.REGION.amazonaws.com:443),
                       off, or HOST:PORT for every target (see README, "The scan engine")
  --json               the round report as one JSON document on stdout (alert lines go to stderr)
Exit status: 0 round complete and every alert delivered; 1 round incomplete (the reasons are listed)
or an alert not delivered (retried next round) or the round failed; 2 bad input; 3 --fail-on matched.
New exposures alone do not change the exit status unless --fail-on is given.
`;

/** `--fail-on SEVERITY`: exit 3 while an open exposure is at or above it. */
export const EXIT_FAIL_ON = 3;

function parseRunArgs(argv: string[]) {
  return parseCommandArgs("run", {
    args: argv,
    allowPositionals: false,
    options: {
      targets: { type: "string" },
      inventory: { type: "string" },
      state: { type: "string" },
      table: { type: "string" },
      "sns-topic-arn": { type: "string" },
      "security-hub": { type: "boolean" },
      region: { type: "string" },
      ports: { type: "string", short: "p" },
      config: { type: "string" },
      "max-seconds": { type: "string" },
      "coverage-slices": { type: "string" },
      "coverage-file": { type: "string" },
      "fail-on": { type: "string" },
      "allow-private": { type: "boolean" },
      "timing-anchor": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

export function parseFailOn(value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (!isSeverity(v)) throw new InputError("--fail-on", `'${value}' is not one of ${SEVERITIES.join(", ")}`);
  return v;
}

/**
 * `--targets a,b`: the target grammar of lib/round/targets.ts (IPs, CIDRs, names); names resolve
 * through the scanner's resolver (the one resolution primitive) to every address they have.
 */
export async function resolveTargetHosts(spec: string): Promise<string[]> {
  const items = parseTargetList([spec], { field: "--targets" });
  // Named here, so loopback/private may be scanned; a named link-local/metadata/multicast address
  // (literal, or what a name resolves to) is refused in one line before anything is sent.
  refuseNamedForbidden(items, "--targets");
  const ips = items.flatMap((i) => (i.kind === "ip" ? [i.ip] : []));
  const names = items.flatMap((i) => (i.kind === "name" ? [i.name] : []));
  const { resolved, failed } = await resolveTargets(names, ALLOW_INTERNAL);
  const unresolved = failed[0];
  if (unresolved?.ip) throw new InputError("--targets", unresolved.error ?? unresolved.ip);
  if (unresolved)
    throw new InputError("--targets", `'${unresolved.target}' does not resolve (${unresolved.error})`);
  const out = [...new Set([...ips, ...resolved.map((r) => r.ip)])];
  if (out.length > MAX_TARGET_ADDRESSES)
    throw new InputError("--targets", `${out.length} addresses, more than ${MAX_TARGET_ADDRESSES} per run`);
  return out;
}

export function regionFrom(flag: string | undefined, fallbackFlag: string): string {
  const region = flag ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new InputError("--region", `needed with ${fallbackFlag} (or set AWS_REGION)`);
  return assertRegion(region, "--region");
}

function policyFrom(config: PortwardenConfig | undefined): Partial<DiffPolicy> | undefined {
  if (!config) return undefined;
  const policy: Partial<DiffPolicy> = {};
  if (config.resolveAfterScans !== undefined) policy.resolveAfterScans = config.resolveAfterScans;
  if (config.flapQuietHours !== undefined) policy.flapQuietMs = config.flapQuietHours * 3600_000;
  if (config.alertOnResolved !== undefined) policy.alertOnResolved = config.alertOnResolved;
  return policy;
}

/** AWS discovery of every cluster node in the scanner's account, every enabled region. */
async function discoverWithAws(
  region: string | undefined,
  io: CliIo,
  quiet: boolean,
  addressPolicy: AddressPolicy,
): Promise<Inventory> {
  const options: DiscoveryOptions = { ...(region ? { region } : {}), addressPolicy };
  const progress = io.interactive && !quiet ? discoveryProgressLine(io, "discovery") : undefined;
  if (progress) options.onProgress = progress.update;
  try {
    return await discoverInventory(options);
  } finally {
    progress?.done();
  }
}

/** A reason as one line: what, where, and AWS's or the scanner's own words. */
export function reasonLine(reason: IncompleteReason): string {
  const text = (t: string) => safeText(t, 300);
  switch (reason.type) {
    case "discovery":
      return `discovery ${[reason.account, reason.region].filter(Boolean).join(" ")}: ${text(reason.error)}`;
    case "scan":
      return `scan ${reason.target === reason.ip || !reason.ip ? reason.target : `${reason.target} (${reason.ip})`}: ${text(reason.error)}${reason.unknownPorts ? ` (${reason.unknownPorts} ports unknown)` : ""}`;
    case "target":
      return `target ${reason.ip}: ${text(reason.error)}`;
    case "deadline":
      return `deadline ${reason.deadline}: ${text(reason.error)} (${reason.ips.join(", ")}${reason.unfinishedScans > reason.ips.length ? ", ..." : ""})`;
  }
}

/** At most this many reasons in the text output (all of them are in --json). */
const MAX_REASON_LINES = 20;

/** Lines after the summary: why the round is incomplete, what was hidden, what was not delivered. */
export function renderExtras(report: RoundReport): string {
  const lines: string[] = [];
  if (report.reasons.length > 0) {
    lines.push(`INCOMPLETE because:`);
    for (const reason of report.reasons.slice(0, MAX_REASON_LINES)) lines.push(`  ${reasonLine(reason)}`);
    if (report.reasons.length > MAX_REASON_LINES)
      lines.push(`  ... and ${report.reasons.length - MAX_REASON_LINES} more (all of them with --json)`);
  }
  for (const finding of report.unrecorded ?? [])
    lines.push(
      `UNRECORDED ${consoleLine({ id: "", eventType: "new", finding, at: report.round.startedAt })}`,
    );
  if (report.suppressed > 0) lines.push(`${report.suppressed} finding(s) hidden by suppressions`);
  if (report.alerts.failed > 0)
    lines.push(
      `${report.alerts.failed} alert(s) not delivered; they stay pending and are retried next round`,
    );
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/** The exit status: 3 when --fail-on matches an open exposure, else 1 for an incomplete round or undelivered alert. */
export function exitCodeOf(report: RoundReport, failOn: Severity | undefined): number {
  if (failOn && report.exposures.some((e) => atLeast(e.severity, failOn))) return EXIT_FAIL_ON;
  return report.round.complete && report.alerts.failed === 0 ? 0 : 1;
}

export async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseRunArgs(argv);
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (values.targets !== undefined && values.inventory !== undefined)
    throw new InputError("--targets", "give either --targets or --inventory, not both");
  if (values.table !== undefined && values.state !== undefined)
    throw new InputError("--state", "give either --state (file) or --table (DynamoDB), not both");
  const ports = parsePortSpec(values.ports ?? DEFAULT_PORT_SPEC, "--ports");
  const timingAnchor = parseTimingAnchor(values["timing-anchor"] ?? DEFAULT_TIMING_ANCHOR, "--timing-anchor");
  const maxSeconds = parsePositiveNumber("--max-seconds", values["max-seconds"], false);
  const failOn = parseFailOn(values["fail-on"]);
  if (values.config !== undefined)
    await checkInputFile(values.config, "--config", "see the README's Suppressions section for the format");
  const config = values.config !== undefined ? await loadConfigFile(values.config) : undefined;
  const topicArn = values["sns-topic-arn"];
  const snsRegion = topicArn?.split(":")[3];
  if (topicArn !== undefined && (!snsRegion || !topicArn.startsWith("arn:")))
    throw new InputError("--sns-topic-arn", `'${topicArn}' is not an SNS topic ARN`);
  const statePath =
    values.table === undefined ? await prepareStatePath(values.state, { write: true }) : undefined;

  const slices =
    values["coverage-slices"] !== undefined
      ? validateSliceCount(Number(values["coverage-slices"]), "--coverage-slices")
      : undefined;
  if (values["coverage-file"] !== undefined && slices === undefined)
    throw new InputError("--coverage-file", "only means something with --coverage-slices");

  let inventory: Inventory | undefined;
  let targets: ScanTarget[];
  if (values.targets !== undefined) {
    targets = targetsFromHosts(await resolveTargetHosts(values.targets));
  } else {
    if (values.inventory !== undefined)
      await checkInputFile(
        values.inventory,
        "--inventory",
        "make one with 'portwarden inventory --json > inventory.json'",
      );
    inventory =
      values.inventory !== undefined
        ? await loadInventoryFile(values.inventory)
        : await discoverWithAws(
            values.region,
            io,
            Boolean(values.json),
            values["allow-private"] ? ALLOW_INTERNAL : PUBLIC_ONLY,
          );
    targets = targetsFromInventory(inventory);
    if (targets.length > MAX_TARGET_ADDRESSES)
      throw new InputError(
        "--inventory",
        `${targets.length} public IPs, more than ${MAX_TARGET_ADDRESSES} per run`,
      );
  }

  const clients: AwsClients[] = [];
  const awsClients = (region: string) => {
    const made = new AwsClients({ region });
    clients.push(made);
    return made;
  };
  try {
    const store: StateStore =
      values.table !== undefined
        ? new DynamoStateStore({
            client: awsClients(regionFrom(values.region, "--table")).dynamodb,
            tableName: values.table,
          })
        : // One atomic write per round (flushed by runRound), not one per target.
          new FileStateStore({ path: statePath ?? DEFAULT_STATE_PATH, stageWrites: true });
    // With --json, stdout carries the report alone; console alerts go to stderr.
    const colour = Boolean(io.colour) && !values.json;
    const out = (text: string) => io.stdout(paintLines(text, colour));
    const alertOut = values.json ? io.stderr : out;
    const notifier: Notifier = withSecurityHub(
      topicArn !== undefined && snsRegion
        ? new SnsNotifier({ client: awsClients(snsRegion).sns, topicArn })
        : new ConsoleNotifier({ write: alertOut }),
      Boolean(values["security-hub"]),
      () => awsClients(regionFrom(values.region, "--security-hub")),
      (rejected) => {
        for (const r of rejected)
          io.stderr(`${safeText(`Security Hub refused ${r.id}: ${r.error}`, 2000)}\n`);
      },
    );

    // Coverage: the slice due this round joins every target's ports; `all` already covers it.
    const coverageStore =
      slices !== undefined && !ports.equals(PortSet.ALL)
        ? new FileCoverageStore(
            values["coverage-file"] ?? join(dirname(statePath ?? DEFAULT_STATE_PATH), "coverage.json"),
          )
        : undefined;
    const roundId = newRoundId(new Date());
    const coverage =
      coverageStore && slices !== undefined
        ? planCoverage(await coverageStore.load(), slices, roundId, new Date())
        : undefined;
    if (coverage) targets = withCoverageSlice(targets, coverage);

    const progress = io.interactive && !values.json ? progressLine(io) : undefined;
    const report = await runRound(
      targets,
      {
        scan: async (hosts, options) => {
          try {
            return await scanHosts(hosts, {
              ...options,
              ...(progress ? { onProgress: progress.update } : {}),
            });
          } finally {
            progress?.done();
          }
        },
        probe: probeOpenPorts,
        store,
        notifier,
        // Named on the command line, or the person opted in: internal addresses may be scanned.
        addressPolicy: values.targets !== undefined || values["allow-private"] ? ALLOW_INTERNAL : PUBLIC_ONLY,
        timingAnchor,
        ...(config ? { suppressions: config.suppressions } : {}),
        ...(config ? { policy: policyFrom(config) ?? {} } : {}),
      },
      {
        ports,
        roundId,
        ...(maxSeconds !== undefined ? { deadline: Date.now() + maxSeconds * 1000 } : {}),
        ...(inventory ? { inventory } : {}),
        ...(config?.baseline !== undefined ? { baseline: config.baseline } : {}),
      },
    );
    if (coverage && coverageStore) {
      // Stamped after the round: a crashed run leaves the slice due for the next one.
      await coverageStore.save(
        markSliceOutcome(coverage.record, coverage.slice, report.round.incompleteScans === 0),
      );
      report.coverage = {
        slice: coverage.slice,
        slices: coverage.record.slices,
        ports: coverage.ports.toSpec(),
      };
    }
    // Every string of the report cleaned (bidi/controls out, secrets redacted), like every other output.
    if (values.json) io.stdout(`${JSON.stringify(sanitizeDeep(report))}\n`);
    else {
      // The console notifier printed the alerts and the summary; SNS printed nothing, so a cron
      // log still gets one line per round.
      if (topicArn !== undefined)
        out(
          `${report.alerts.published} alert(s) published to ${topicArn}\n${summaryLine({
            roundId: report.round.id,
            startedAt: report.round.startedAt,
            targets: report.round.targets,
            complete: report.round.complete,
            newExposures: report.newExposures.length,
            resolved: report.resolved.length,
            openExposures: report.openExposures,
            incompleteScans: report.round.incompleteScans,
          })}\n`,
        );
      out(renderExtras(report));
    }
    return exitCodeOf(report, failOn);
  } finally {
    for (const made of clients) made.destroy();
  }
}
