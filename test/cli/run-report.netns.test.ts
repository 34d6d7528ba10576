import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEVERITIES, type Severity } from "../../lib/catalog/severity.ts";
import { main } from "../../lib/cli/main.ts";
import { freshLoopbackAddress, iptables, requirePrivateNetns } from "../support/netns.ts";
import { capture } from "./support.ts";

// Real listeners on fresh loopback addresses inside the private netns: what `run --json`, the exit
// status, --fail-on and `status` say about exposures that stay open across rounds.

describe.runIf(requirePrivateNetns())("run --json exposures, --fail-on, status (private netns)", () => {
  const host = freshLoopbackAddress();
  const silent = freshLoopbackAddress();
  const PORT = 18443;
  const DROP_ALL = () => ["-A", "INPUT", "-d", silent, "-p", "tcp", "--syn", "-j", "DROP"];
  let server: Server;
  let dir: string;
  let state: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-report-"));
    state = join(dir, "state.json");
    server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(PORT, host, resolve));
    iptables(...DROP_ALL());
  });
  afterAll(async () => {
    server.close();
    iptables("-D", ...DROP_ALL().slice(1));
    await rm(dir, { recursive: true, force: true });
  });

  const round = async (...extra: string[]) => {
    const c = capture();
    const code = await main(
      ["run", "--targets", host, "--ports", String(PORT), "--state", state, "--json", ...extra],
      c.io,
    );
    return { code, report: JSON.parse(c.out()) };
  };

  it("lists every open exposure after each round, and --fail-on exits 3 while it stays open", async () => {
    // Act: round 1 finds it; round 2 finds nothing new, it is still open.
    const first = await round();
    const found = first.report.exposures[0] as { severity: Severity; firstSeen: string };
    const above = SEVERITIES[SEVERITIES.indexOf(found.severity) - 1];
    const second = await round("--fail-on", found.severity);
    const notReached = above ? await round("--fail-on", above) : undefined;

    // Assess
    expect(first.code).toBe(0);
    expect(first.report.exposures).toEqual([
      expect.objectContaining({ ip: host, port: PORT, kind: "exposed", service: expect.any(String) }),
    ]);
    expect(first.report.openExposures).toBe(1);
    expect([second.code, second.report.newExposures, second.report.exposures]).toEqual([
      3,
      [],
      [
        expect.objectContaining({
          ip: host,
          port: PORT,
          severity: found.severity,
          firstSeen: found.firstSeen,
        }),
      ],
    ]);
    if (notReached) expect(notReached.code).toBe(0);
  });

  it("status prints the stored open exposures without scanning, and gates with --fail-on", async () => {
    await round();
    server.close(); // nothing listens now: status must still show what the state holds

    const table = capture();
    const json = capture();
    const gate = capture();
    const tableCode = await main(["status", "--state", state], table.io);
    await main(["status", "--state", state, "--json"], json.io);
    const gateCode = await main(["status", "--state", state, "--fail-on", "info"], gate.io);

    expect(tableCode).toBe(0);
    expect(table.out()).toMatch(/^SEVERITY +KIND +ENDPOINT +SERVICE +FIRST SEEN +WHERE +EVIDENCE\n/);
    expect(table.out()).toContain(`exposed  ${host}:${PORT}`);
    expect(table.out()).toMatch(/\n1 open exposure \(1 \w+\), 0 latent\n$/);
    expect(JSON.parse(json.out()).exposures).toEqual([expect.objectContaining({ ip: host, port: PORT })]);
    expect(gateCode).toBe(3);
  });

  it("an INCOMPLETE round names the deadline and the unfinished targets, in JSON and in text", async () => {
    // A host that drops every SYN cannot be scanned over 65,535 ports in 2 s.
    const json = capture();
    const text = capture();
    const args = [
      "run",
      "--targets",
      silent,
      "--ports",
      "all",
      "--max-seconds",
      "2",
      "--state",
      join(dir, "late.json"),
    ];

    const code = await main([...args, "--json"], json.io);
    await main(args, text.io);

    const report = JSON.parse(json.out());
    expect([code, report.round.complete]).toEqual([1, false]);
    expect(report.reasons).toEqual([
      {
        type: "deadline",
        deadline: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        unfinishedScans: 1,
        ips: [silent],
        error: "the round's deadline stopped 1 scan before it finished",
      },
    ]);
    expect(text.out()).toMatch(
      new RegExp(
        `INCOMPLETE because:\\n  deadline \\S+: the round's deadline stopped 1 scan before it finished \\(${silent.replace(/\./g, "\\.")}\\)\\n`,
      ),
    );
  });
});
