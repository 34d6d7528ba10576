import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateTopicCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../lib/cli/main.ts";
import type { Inventory } from "../../lib/discovery/types.ts";
import { createStateTable } from "../state/dynamo-table.ts";
import { freePort, useMoto } from "../support/moto.ts";
import { capture, REPO, runCli } from "./support.ts";

// The CLI as an operator meets it, without scanning: inventories whose only finding is a public
// EKS endpoint (cluster-level, no packet is sent), moto for AWS, child processes for the env.

const ENDPOINT_INVENTORY: Inventory = {
  clusters: [
    {
      account: "111122223333",
      region: "us-east-1",
      name: "prod",
      kind: "eks",
      endpoint: { publicAccess: true, publicAccessCidrs: ["0.0.0.0/0"] },
      nodes: [],
    },
  ],
  errors: [],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pw-ux-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("parser errors are one friendly line (exit 2)", () => {
  it.each([
    [
      ["run", "--target", "127.0.0.1"],
      "portwarden run: --target: unknown flag --target; see portwarden run --help",
    ],
    [["run", "--targets"], "portwarden run: --targets: --targets needs a value; see portwarden run --help"],
    [
      ["run", "--json=yes"],
      "portwarden run: --json: --json is a switch and takes no value; see portwarden run --help",
    ],
    [["run", "extra"], "portwarden run: arguments: unexpected argument 'extra'; see portwarden run --help"],
    [["scan", "127.0.0.1", "-x"], "portwarden scan: -x: unknown flag -x; see portwarden scan --help"],
    [
      ["status", "--tabel", "t"],
      "portwarden status: --tabel: unknown flag --tabel; see portwarden status --help",
    ],
    [
      ["inventory", "--acounts", "1"],
      "portwarden inventory: --acounts: unknown flag --acounts; see portwarden inventory --help",
    ],
    [["--json"], "portwarden: unknown flag --json; flags go after the command, see portwarden --help"],
  ])("%j", async (argv, message) => {
    const c = capture();
    expect(await main(argv, c.io)).toBe(2);
    expect(c.err()).toBe(`${message}\n`);
  });

  it.each([
    [
      ["run", "--targets", "127.0.0.1", "--max-seconds", "-1"],
      "portwarden run: --max-seconds: '-1' is not a positive number",
    ],
    [
      ["scan", "127.0.0.1", "--socket-budget", "-5"],
      "portwarden scan: --socket-budget: '-5' is not a positive integer",
    ],
    [
      ["scan", "127.0.0.1", "--max-seconds", "-0.5"],
      "portwarden scan: --max-seconds: '-0.5' is not a positive number",
    ],
    [
      ["run", "--targets", "127.0.0.1", "--fail-on", "severe"],
      "portwarden run: --fail-on: 'severe' is not one of critical, high, medium, low, info",
    ],
  ])("a negative or bad number reaches the flag's own check: %j", async (argv, message) => {
    const c = capture();
    expect(await main(argv, c.io)).toBe(2);
    expect(c.err()).toBe(`${message}\n`);
  });

  it("--version prints the package version", async () => {
    const c = capture();
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8"));
    expect(await main(["--version"], c.io)).toBe(0);
    expect(c.out()).toBe(`portwarden ${pkg.version}\n`);
  });
});

describe("file errors name the flag and say what to do", () => {
  it.each([
    [
      "--state",
      async () => ["run", "--targets", "127.0.0.1", "--state", dir],
      `'${"DIR"}' is a directory; give a file path, e.g. --state DIR/state.json`,
    ],
    [
      "--state",
      async () => ["run", "--targets", "127.0.0.1", "--state", join(dir, "nope", "s.json")],
      "directory 'DIR/nope' does not exist; create it (mkdir -p 'DIR/nope') or choose another path",
    ],
    [
      "--state",
      async () => ["run", "--targets", "127.0.0.1", "--state", "/dev/null"],
      "'/dev/null' is not a regular file; give the path of a JSON state file",
    ],
    [
      "--inventory",
      async () => ["run", "--inventory", dir],
      "'DIR' is a directory; give the path of a JSON file (make one with 'portwarden inventory --json > inventory.json')",
    ],
    [
      "--inventory",
      async () => ["run", "--inventory", join(dir, "none.json")],
      "'DIR/none.json' does not exist; make one with 'portwarden inventory --json > inventory.json'",
    ],
    [
      "--config",
      async () => ["run", "--targets", "127.0.0.1", "--config", dir],
      "'DIR' is a directory; give the path of a JSON file (see the README's Suppressions section for the format)",
    ],
    [
      "--state",
      async () => ["status", "--state", join(dir, "never.json")],
      "'DIR/never.json' does not exist; give the file a 'portwarden run --state' wrote",
    ],
  ])("%s", async (flag, argv, message) => {
    const c = capture();
    const args = await argv();
    expect(await main(args, c.io)).toBe(2);
    expect(c.err()).toBe(`portwarden ${args[0]}: ${flag}: ${message.replaceAll("DIR", dir)}\n`);
  });

  it("creates the default state directory (and only that one)", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "pw-default-"));
    const inventory = await file("default.json", ENDPOINT_INVENTORY);
    const result = runCli(["run", "--inventory", inventory], { cwd });
    expect(result.code).toBe(0);
    expect((await stat(join(cwd, ".portwarden", "state.json"))).isFile()).toBe(true);
    await rm(cwd, { recursive: true, force: true });
  });
});

describe("an INCOMPLETE round says why", () => {
  it("lists each account/region discovery could not read, in --json and in text", async () => {
    const partial: Inventory = {
      ...ENDPOINT_INVENTORY,
      errors: [
        { account: "444455556666", message: "AccessDenied: not authorized to perform sts:AssumeRole" },
        { account: "111122223333", region: "ap-east-1", message: "AuthFailure: region not enabled" },
      ],
    };
    const path = await file("partial.json", partial);
    const json = capture();
    const text = capture();
    const code = await main(["run", "--inventory", path, "--state", join(dir, "p.json"), "--json"], json.io);
    await main(["run", "--inventory", path, "--state", join(dir, "p.json")], text.io);

    expect([code, JSON.parse(json.out()).reasons]).toEqual([
      1,
      [
        {
          type: "discovery",
          account: "444455556666",
          error: "AccessDenied: not authorized to perform sts:AssumeRole",
        },
        {
          type: "discovery",
          account: "111122223333",
          region: "ap-east-1",
          error: "AuthFailure: region not enabled",
        },
      ],
    ]);
    expect(text.out()).toMatch(
      /INCOMPLETE, 0 new, 0 resolved, 1 open\nINCOMPLETE because:\n {2}discovery 444455556666: AccessDenied: not authorized to perform sts:AssumeRole\n {2}discovery 111122223333 ap-east-1: AuthFailure: region not enabled\n$/,
    );
  });

  it("run without credentials says discovery could not identify the account (no packet leaves: IMDS off)", async () => {
    const closed = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_ENDPOINT_URL: `http://127.0.0.1:${closed}`,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
      AWS_CONFIG_FILE: join(dir, "no-config"),
    };
    const result = runCli(["run", "--state", join(dir, "nocreds.json"), "--json"], { env });
    const report = JSON.parse(result.stdout);
    expect([result.code, report.round.complete]).toEqual([1, false]);
    expect(report.reasons).toEqual([
      {
        type: "discovery",
        account: expect.any(String),
        error: expect.stringMatching(/could not identify the scanner's account: .*credentials/i),
      },
    ]);
  });
});

describe("colour only where wanted", () => {
  it("paints severities when the io asks for colour, never in --json", async () => {
    const path = await file("colour.json", ENDPOINT_INVENTORY);
    const coloured = capture({ colour: true });
    const plain = capture({ colour: false });
    const json = capture({ colour: true });
    await main(["run", "--inventory", path, "--state", join(dir, "c1.json")], coloured.io);
    await main(["run", "--inventory", path, "--state", join(dir, "c2.json")], plain.io);
    await main(["run", "--inventory", path, "--state", join(dir, "c3.json"), "--json"], json.io);

    expect(coloured.out().startsWith("\x1b[31m")).toBe(true);
    expect(plain.out()).not.toContain("\x1b[");
    expect(json.out() + json.err()).not.toContain("\x1b[");
  });

  it.each<[Record<string, string>, boolean]>([
    [{ FORCE_COLOR: "1" }, true],
    [{ FORCE_COLOR: "1", NO_COLOR: "1" }, false],
    [{ FORCE_COLOR: "0" }, false],
    [{}, false], // a pipe is not a terminal
  ])("the process follows %j (colour: %s)", async (extra, wanted) => {
    const path = await file(`env-${Object.keys(extra).join("-")}.json`, ENDPOINT_INVENTORY);
    const env = { ...process.env, ...extra };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    Object.assign(env, extra);
    const result = runCli(
      ["run", "--inventory", path, "--state", join(dir, `env-${Object.keys(extra).join("-")}.state`)],
      { env },
    );
    expect(result.stdout.includes("\x1b[")).toBe(wanted);
  });
});

describe("AWS side (moto)", () => {
  const moto = useMoto();
  beforeEach(async () => {
    await moto.reset();
  });

  it("--sns-topic-arn still prints the round summary for a cron log", async () => {
    const sns = new SNSClient({ region: "us-east-1" });
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: "pw-cron" }))).TopicArn as string;
    const c = capture();
    const code = await main(
      [
        "run",
        "--inventory",
        await file("sns.json", ENDPOINT_INVENTORY),
        "--state",
        join(dir, "sns.state"),
        "--sns-topic-arn",
        topicArn,
      ],
      c.io,
    );
    expect(code).toBe(0);
    expect(c.out()).toMatch(
      new RegExp(
        `^1 alert\\(s\\) published to ${topicArn}\\nround r-\\S+: 0 targets, complete, 1 new, 0 resolved, 1 open\\n$`,
      ),
    );
    sns.destroy();
  });

  it("status --table reads the DynamoDB state", async () => {
    const dynamo = new DynamoDBClient({ region: "us-east-1" });
    await createStateTable(dynamo, "pw-status");
    const path = await file("table.json", ENDPOINT_INVENTORY);
    await main(["run", "--inventory", path, "--table", "pw-status", "--region", "us-east-1"], capture().io);
    const c = capture();

    expect(await main(["status", "--table", "pw-status", "--region", "us-east-1", "--json"], c.io)).toBe(0);
    expect(JSON.parse(c.out()).exposures).toEqual([
      expect.objectContaining({ service: "eks-api-endpoint", cluster: "prod", account: "111122223333" }),
    ]);
    dynamo.destroy();
  });

  it("inventory takes --region like run; --home-region still works with a deprecation warning", async () => {
    const current = capture();
    const old = capture();
    expect(
      await main(["inventory", "--region", "us-east-1", "--regions", "us-east-1", "--json"], current.io),
    ).toBe(0);
    expect(
      await main(["inventory", "--home-region", "us-east-1", "--regions", "us-east-1", "--json"], old.io),
    ).toBe(0);
    expect(current.err()).toBe("");
    expect(old.err()).toBe(
      "portwarden inventory: --home-region is deprecated, use --region (same meaning)\n",
    );
    expect(JSON.parse(old.out()).inventoried).toEqual(JSON.parse(current.out()).inventoried);
  });

  it("an AWS command prints no SDK Node-version warning (suppressed once, in the CLI)", async () => {
    const result = runCli(["inventory", "--regions", "us-east-1", "--json"], {
      env: { ...process.env, AWS_ENDPOINT_URL: moto.endpoint },
    });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  });
});
