import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The package as a team gets it: `npm pack` (which builds dist/ through `prepare`), the tarball
// unpacked where `npm install` would put it, with the dependencies this repo already installed
// (offline: no registry), then the CLI through `npx portwarden` (no tsx) and a scratch CDK app in
// plain JavaScript that does `import { Portwarden } from "portwarden/infra"` and synthesizes.

const REPO = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };

let scratch: string;
let app: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "pw-package-"));
  execFileSync("npm", ["pack", "--pack-destination", scratch], {
    cwd: REPO,
    stdio: "ignore",
    timeout: 300_000,
  });
  const tarball = join(scratch, `portwarden-${pkg.version}.tgz`);
  app = join(scratch, "app");
  const modules = join(app, "node_modules");
  await mkdir(join(modules, "portwarden"), { recursive: true });
  execFileSync("tar", ["xzf", tarball, "-C", join(modules, "portwarden"), "--strip-components=1"]);
  // The dependencies, as npm would have installed them next to the package.
  const installed = join(REPO, "node_modules");
  for (const name of readdirSync(installed)) {
    if (name === ".bin" || name === "portwarden" || name.startsWith(".")) continue;
    await symlink(join(installed, name), join(modules, name));
  }
  // What npm does with package.json "bin": a link in node_modules/.bin (and nothing else there: no tsx).
  await mkdir(join(modules, ".bin"));
  await symlink(
    join("..", "portwarden", "dist", "lib", "cli", "main.js"),
    join(modules, ".bin", "portwarden"),
  );
  await chmod(join(modules, "portwarden", "dist", "lib", "cli", "main.js"), 0o755);
  // The app's own devDependency that NodejsFunction bundles with (locally, no Docker).
  await symlink(join("..", "esbuild", "bin", "esbuild"), join(modules, ".bin", "esbuild"));
  await writeFile(
    join(app, "package.json"),
    JSON.stringify({ name: "scratch-app", private: true, type: "module" }),
  );
}, 300_000);
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the installed package", () => {
  it("ships built JavaScript, declarations and the contracts, not the TypeScript sources or tests", async () => {
    const files = execFileSync("tar", ["tzf", join(scratch, `portwarden-${pkg.version}.tgz`)], {
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    expect(files).toEqual(
      expect.arrayContaining([
        "package/dist/lib/cli/main.js",
        "package/dist/infra/index.d.ts",
        "package/CONTRACTS.md",
      ]),
    );
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("package/test/") || f.endsWith(".map"))).toEqual([]);
  });

  it("npx portwarden --version runs the built CLI without tsx", () => {
    const result = spawnSync("npx", ["--no-install", "portwarden", "--version"], {
      cwd: app,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect([result.status, result.stdout]).toEqual([0, `portwarden ${pkg.version}\n`]);
    expect(existsSync(join(app, "node_modules", ".bin", "tsx"))).toBe(false);
    expect(existsSync(join(app, "node_modules", "portwarden", "lib", "cli", "main.ts"))).toBe(false);
  });

  it("npx portwarden refuses bad input the same way as from the sources", () => {
    const result = spawnSync("npx", ["--no-install", "portwarden", "scan", "127.0.0.1:80"], {
      cwd: app,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect([result.status, result.stderr]).toEqual([
      2,
      "portwarden scan: HOST: '127.0.0.1:80' is host:port; give the host alone and ports with --ports (e.g. 127.0.0.1 --ports 80)\n",
    ]);
  });

  it("a scratch CDK app imports { Portwarden, PortwardenMemberRoleStack } from 'portwarden/infra' and synthesizes", async () => {
    await writeFile(
      join(app, "app.mjs"),
      `import { App, Stack } from "aws-cdk-lib";
import { Portwarden, PortwardenMemberRoleStack } from "portwarden/infra";

const app = new App({ outdir: "cdk.out" });
const stack = new Stack(app, "TeamSecurity", { env: { account: "111122223333", region: "eu-west-1" } });
const portwarden = new Portwarden(stack, "Scanner", { regions: ["eu-west-1"], alertEmails: ["secops@example.com"] });
new PortwardenMemberRoleStack(app, "Member", { scannerAccountId: "111122223333", externalId: "team-7f3a" });
console.log(portwarden.stateMachine.node.path);
app.synth();
`,
    );
    const result = spawnSync("node", ["app.mjs"], { cwd: app, encoding: "utf8", timeout: 600_000 });
    expect(result.stderr).not.toMatch(/Error/);
    expect([result.status, result.stdout.trim()]).toEqual([
      0,
      expect.stringContaining("TeamSecurity/Scanner"),
    ]);
    const template = JSON.parse(await readFile(join(app, "cdk.out", "TeamSecurity.template.json"), "utf8"));
    const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(types.filter((t) => t === "AWS::Lambda::Function").length).toBeGreaterThanOrEqual(3);
    expect(types).toContain("AWS::StepFunctions::StateMachine");
    expect(existsSync(join(app, "cdk.out", "Member.template.json"))).toBe(true);
    // The Lambdas were bundled from the package's built handlers.
    const assets = (await readdir(join(app, "cdk.out"))).filter((d) => d.startsWith("asset."));
    const bundles = assets.filter((d) => existsSync(join(app, "cdk.out", d, "index.mjs")));
    expect(bundles.length).toBeGreaterThanOrEqual(3);
  });
});
