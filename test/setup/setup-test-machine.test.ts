import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `npm test` does its own set-up (test/setup-test-machine.sh). Here it runs with a PATH from which
// some tools are hidden and installing is off, so it must stop at once with the one command.

const REPO = join(import.meta.dirname, "..", "..");
let bin: string;

/** A PATH directory holding every command of this PATH except `hidden`. */
async function pathWithout(hidden: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(bin, "path-"));
  const seen = new Set<string>(hidden);
  for (const from of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    if (!from || !existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (seen.has(name)) continue;
      seen.add(name);
      await symlink(join(from, name), join(dir, name));
    }
  }
  return dir;
}

beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), "pw-setup-"));
});
afterAll(async () => {
  await rm(bin, { recursive: true, force: true });
});

const run = (script: string, path: string) =>
  spawnSync("bash", [script], {
    cwd: REPO,
    // Not PORTWARDEN_TEST_NETNS: that marks the inner run, which skips the set-up.
    env: { ...process.env, PATH: path, PORTWARDEN_TEST_NO_INSTALL: "1", PORTWARDEN_TEST_NETNS: "" },
    encoding: "utf8",
    timeout: 60_000,
  });

describe("test/setup-test-machine.sh", () => {
  it("is silent and succeeds when everything is there (this machine)", () => {
    const result = run("test/setup-test-machine.sh", process.env.PATH ?? "");
    expect([result.status, result.stderr]).toEqual([0, ""]);
  });

  it("names what is missing and prints the one command that installs it", async () => {
    const path = await pathWithout(["etcd", "iptables", "moto_server"]);
    const result = run("test/setup-test-machine.sh", path);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "portwarden tests: missing: iptables etcd-server python3-venv moto_server\n",
    );
    expect(result.stderr).toContain(
      `  sudo sh -c "apt-get update && apt-get install -y --no-install-recommends iptables etcd-server python3-venv && python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]==5.2.1'"\n`,
    );
  });

  it("stops npm test's runner before any test runs", async () => {
    const path = await pathWithout(["openssl"]);
    const result = run("test/run-tests.sh", path);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("portwarden tests: missing: openssl");
    expect(result.stdout).not.toContain("Test Files");
  });
});
