import { endpointText, safeText, whereText } from "../alerts/format.ts";
import { AwsClients } from "../aws/clients.ts";
import { atLeast, SEVERITIES } from "../catalog/severity.ts";
import { InputError } from "../errors/errors.ts";
import type { ExposureRecord } from "../findings/types.ts";
import { type OpenExposure, openExposuresOf } from "../round/run-round.ts";
import { DynamoStateStore } from "../state/dynamo-state-store.ts";
import { DEFAULT_STATE_PATH, FileStateStore } from "../state/file-state-store.ts";
import type { StateStore } from "../state/types.ts";
import { parseCommandArgs } from "./args.ts";
import { paintLines } from "./colour.ts";
import { prepareStatePath } from "./files.ts";
import type { CliIo } from "./io.ts";
import { EXIT_FAIL_ON, parseFailOn, regionFrom } from "./run-command.ts";

const HELP = `Usage: portwarden status [--state PATH | --table NAME [--region R]] [--json] [--fail-on SEVERITY]

What is open now, from the stored state of earlier rounds: no discovery, no scan, no alert.
  --state PATH         JSON state file (default ${DEFAULT_STATE_PATH})
  --table NAME         DynamoDB state table instead (region: --region or $AWS_REGION)
  --json               {"exposures":[...],"latent":[...]} (the entries of 'run --json')
  --fail-on SEVERITY   exit 3 while any open exposure is at or above SEVERITY (${SEVERITIES.join(", ")})
Exit status: 0 read (whatever is open), 2 bad input, 3 --fail-on matched, 1 the state could not be read.
`;

/** Records read at once from DynamoDB (one Query per IP). */
const LOAD_CONCURRENCY = 8;

/** Every open record the store holds. */
export async function openRecords(store: StateStore): Promise<ExposureRecord[]> {
  const ips = await store.listIps();
  const out: ExposureRecord[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(LOAD_CONCURRENCY, ips.length) }, async () => {
      while (next < ips.length) {
        const ip = ips[next++] as string;
        out.push(...(await store.loadIp(ip)).filter((r) => r.status === "open"));
      }
    }),
  );
  return out;
}

/** The readable table of open exposures, most severe first, then a count line. */
export function renderExposureTable(
  exposures: readonly OpenExposure[],
  latent: readonly OpenExposure[],
): string {
  const rows = [...exposures, ...latent].map((e) => [
    e.severity.toUpperCase(),
    e.kind,
    endpointText(e),
    safeText(e.service, 40),
    e.firstSeen.replace(/\.\d{3}Z$/, "Z"),
    whereText(e) || "-",
    safeText(e.evidence, 100),
  ]);
  const lines: string[] = [];
  if (rows.length > 0) {
    const header = ["SEVERITY", "KIND", "ENDPOINT", "SERVICE", "FIRST SEEN", "WHERE", "EVIDENCE"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const format = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd();
    lines.push(format(header), ...rows.map(format));
  }
  const bySeverity = SEVERITIES.map((s) => [s, exposures.filter((e) => e.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  lines.push(
    `${exposures.length} open exposure${exposures.length === 1 ? "" : "s"}${bySeverity.length > 0 ? ` (${bySeverity.join(", ")})` : ""}, ${latent.length} latent`,
  );
  return `${lines.join("\n")}\n`;
}

export async function statusCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs("status", {
    args: argv,
    allowPositionals: false,
    options: {
      state: { type: "string" },
      table: { type: "string" },
      region: { type: "string" },
      json: { type: "boolean" },
      "fail-on": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (values.table !== undefined && values.state !== undefined)
    throw new InputError("--state", "give either --state (file) or --table (DynamoDB), not both");
  const failOn = parseFailOn(values["fail-on"]);
  let clients: AwsClients | undefined;
  try {
    let store: StateStore;
    if (values.table !== undefined) {
      clients = new AwsClients({ region: regionFrom(values.region, "--table") });
      store = new DynamoStateStore({ client: clients.dynamodb, tableName: values.table });
    } else {
      // Reading only: nothing is created, and an explicit path that is not there is an error.
      const path = await prepareStatePath(values.state, { write: false });
      store = new FileStateStore({ path });
    }
    const open = openExposuresOf(await openRecords(store));
    const exposures = open.filter((e) => e.kind !== "latent");
    const latent = open.filter((e) => e.kind === "latent");
    if (values.json) io.stdout(`${JSON.stringify({ exposures, latent })}\n`);
    else io.stdout(paintLines(renderExposureTable(exposures, latent), Boolean(io.colour)));
    return failOn && exposures.some((e) => atLeast(e.severity, failOn)) ? EXIT_FAIL_ON : 0;
  } finally {
    clients?.destroy();
  }
}
