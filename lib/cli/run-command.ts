import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { ConsoleNotifier } from "../alerts/console-notifier.ts";
import { SnsNotifier } from "../alerts/sns-notifier.ts";
import type { Notifier } from "../alerts/types.ts";
import { AwsClients } from "../aws/clients.ts";
import { loadConfigFile, type PortwardenConfig } from "../config/config-file.ts";
import { loadInventoryFile } from "../config/inventory-file.ts";
import { assertRegion } from "../contracts/aws-identifiers.ts";
import { type DiscoveryOptions, discoverInventory } from "../discovery/discover.ts";
import type { Inventory } from "../discovery/types.ts";
import { errorMessage, InputError } from "../errors/errors.ts";
import type { DiffPolicy } from "../findings/diff.ts";
import { DEFAULT_PORT_SPEC, parsePortSpec } from "../ports/port-spec.ts";
import { probeOpenPorts } from "../probes/probe-open-ports.ts";
import { type RoundReport, runRound } from "../round/run-round.ts";
import { type ScanTarget, targetsFromHosts, targetsFromInventory } from "../round/targets.ts";
import { scanHosts } from "../scan/scanner.ts";
import { withSecurityHub } from "../securityhub/destination.ts";
import { DynamoStateStore } from "../state/dynamo-state-store.ts";
import { DEFAULT_STATE_PATH, FileStateStore } from "../state/file-state-store.ts";
import type { StateStore } from "../state/types.ts";
import type { CliIo } from "./io.ts";
import { progressLine } from "./progress.ts";
import { parsePositiveNumber } from "./scan-command.ts";

const HELP = `Usage: portwarden run [--targets H,H | --inventory FILE] [options]

One scan round: targets → TCP scan → probes → findings → diff with state → alerts.
Targets (when neither is given: AWS discovery of the clusters in this account, every enabled region;
for other accounts run 'portwarden inventory --accounts ...' and pass its JSON with --inventory):
  --targets H,H        addresses or host names; no security-group data, so open ports count as exposed
  --inventory FILE     the JSON of 'portwarden inventory --json' (nodes, public IPs, SG-allowed ports)
State and alerts:
  --state PATH         JSON state file (default ${DEFAULT_STATE_PATH})
  --table NAME         DynamoDB table instead of the state file
  --sns-topic-arn ARN  publish alerts to this SNS topic instead of printing them
  --security-hub       also import new/resolved findings into AWS Security Hub (this account, --region)
  --region R           AWS region for --table, --security-hub and discovery (default $AWS_REGION;
                       SNS uses the ARN's)
Options:
  --ports SPEC         ports, ranges and profiles: kubernetes (default), all, e.g. kubernetes,8000-8100
  --config FILE        suppressions and diff policy (see README, "Suppressions")
  --max-seconds S      stop scanning after S seconds; unfinished scans resolve nothing
  --json               the round report as one JSON document on stdout (alert lines go to stderr)
Exit status: 0 round complete and every alert delivered; 1 round incomplete (a scan incomplete,
a target failed, an account not discovered) or an alert not delivered (retried next round) or the
round failed; 2 bad input. New exposures alone do not change the exit status.
`;

/** A hard cap so a typo cannot turn one run into a scan of half the internet. */
const MAX_TARGETS = 4096;
const MAX_HOST_CHARS = 253;

function parseRunArgs(argv: string[]) {
  try {
    return parseArgs({
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
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new InputError("arguments", `${errorMessage(error)} (see --help)`);
  }
}

/** `--targets a,b`: IPs as given, names resolved to every address (each becomes a target). */
export async function resolveTargetHosts(spec: string): Promise<string[]> {
  const items = spec.split(",").map((h) => h.trim());
  if (items.some((h) => h === "")) throw new InputError("--targets", `empty item in '${spec}'`);
  const out: string[] = [];
  for (const host of items) {
    if (host.length > MAX_HOST_CHARS)
      throw new InputError("--targets", `'${host.slice(0, 40)}...' is too long`);
    if (isIP(host)) {
      out.push(host);
      continue;
    }
    if (!/^[A-Za-z0-9.-]+$/.test(host))
      throw new InputError("--targets", `'${host}' is not an IP address or host name`);
    try {
      for (const { address } of await lookup(host, { all: true })) out.push(address);
    } catch (error) {
      throw new InputError("--targets", `'${host}' does not resolve: ${errorMessage(error)}`);
    }
  }
  if (out.length > MAX_TARGETS)
    throw new InputError("--targets", `${out.length} addresses, more than ${MAX_TARGETS}`);
  return out;
}

function regionFrom(flag: string | undefined, fallbackFlag: string): string {
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
async function discoverWithAws(region: string | undefined, io: CliIo, quiet: boolean): Promise<Inventory> {
  const options: DiscoveryOptions = region ? { region } : {};
  if (io.interactive && !quiet)
    options.onProgress = (p) =>
      io.stderr(`\rdiscovery: ${p.done}/${p.total} account-regions (${p.account} ${p.region}) \x1b[K`);
  const inventory = await discoverInventory(options);
  if (io.interactive && !quiet) io.stderr("\r\x1b[K");
  return inventory;
}

/** Lines the console notifier does not print: what failed, what was hidden. */
function renderExtras(report: RoundReport, failuresShown: boolean): string {
  const lines: string[] = [];
  if (!failuresShown)
    for (const failure of report.failedTargets) lines.push(`target ${failure.ip} failed: ${failure.error}`);
  if (report.suppressed > 0) lines.push(`${report.suppressed} finding(s) hidden by suppressions`);
  if (report.alerts.failed > 0)
    lines.push(
      `${report.alerts.failed} alert(s) not delivered; they stay pending and are retried next round`,
    );
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
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
  const maxSeconds = parsePositiveNumber("--max-seconds", values["max-seconds"], false);
  const config = values.config !== undefined ? await loadConfigFile(values.config) : undefined;
  const topicArn = values["sns-topic-arn"];
  const snsRegion = topicArn?.split(":")[3];
  if (topicArn !== undefined && !snsRegion)
    throw new InputError("--sns-topic-arn", `'${topicArn}' is not an SNS topic ARN`);

  let inventory: Inventory | undefined;
  let targets: ScanTarget[];
  if (values.targets !== undefined) {
    targets = targetsFromHosts(await resolveTargetHosts(values.targets));
  } else {
    inventory =
      values.inventory !== undefined
        ? await loadInventoryFile(values.inventory)
        : await discoverWithAws(values.region, io, Boolean(values.json));
    targets = targetsFromInventory(inventory);
    if (targets.length > MAX_TARGETS)
      throw new InputError("--inventory", `${targets.length} public IPs, more than ${MAX_TARGETS} per run`);
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
        : new FileStateStore(values.state !== undefined ? { path: values.state } : {});
    // With --json, stdout carries the report alone; console alerts go to stderr.
    const alertOut = values.json ? io.stderr : io.stdout;
    let notifier: Notifier =
      topicArn !== undefined && snsRegion
        ? new SnsNotifier({ client: awsClients(snsRegion).sns, topicArn })
        : new ConsoleNotifier({ write: alertOut });
    if (values["security-hub"])
      notifier = await withSecurityHub(
        notifier,
        awsClients(regionFrom(values.region, "--security-hub")),
        (rejected) => {
          for (const r of rejected) io.stderr(`Security Hub refused ${r.id}: ${r.error}\n`);
        },
      );

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
        ...(config ? { suppressions: config.suppressions } : {}),
        ...(config ? { policy: policyFrom(config) ?? {} } : {}),
      },
      {
        ports,
        ...(maxSeconds !== undefined ? { deadline: Date.now() + maxSeconds * 1000 } : {}),
        ...(inventory ? { inventory } : {}),
      },
    );
    if (values.json) io.stdout(`${JSON.stringify(report)}\n`);
    // The console notifier already printed failed targets as FAILED lines; SNS did not print them.
    else io.stdout(renderExtras(report, topicArn === undefined));
    return report.round.complete && report.alerts.failed === 0 ? 0 : 1;
  } finally {
    for (const made of clients) made.destroy();
  }
}
