import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/** A moto server on loopback for one test file. Every AWS API in the tests goes here. */
export interface Moto {
  endpoint: string;
  /** POST /moto-api/reset: empties every service between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const LOCAL_VENV_PYTHON = join(import.meta.dirname, "..", "..", ".venv-moto", "bin", "python3");
const LOCAL_VENV_SERVER = join(import.meta.dirname, "..", "..", ".venv-moto", "bin", "moto_server");
const SERIAL_SERVER = join(import.meta.dirname, "moto_serial_server.py");
const INSTALL_HINT =
  "moto not found (no Python that imports moto.server). Install it with: python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]==5.2.1'";

/**
 * How to start moto: the serial server (moto_serial_server.py) under the Python of `moto_server`
 * on the PATH (its shebang, `#!/usr/bin/env python3` included), else python3, else the local venv's.
 * Where no Python imports moto but a `moto_server` runs, that plain server is used with a warning:
 * the tests then lose the one-request-at-a-time guarantee, not their AWS API.
 */
let motoCommand: { command: string; args: (port: number) => string[] } | undefined;

function motoLauncher(): { command: string; args: (port: number) => string[] } {
  if (motoCommand) return motoCommand;
  const script = spawnSync("sh", ["-c", "command -v moto_server"], { encoding: "utf8" }).stdout.trim();
  const shebang = script
    ? /^#!\s*(?:\/usr\/bin\/env\s+)?(\S*python[\d.]*)\s*$/.exec(
        readFileSync(script, "utf8").split("\n")[0] ?? "",
      )
    : null;
  for (const python of [shebang?.[1], "python3", LOCAL_VENV_PYTHON]) {
    if (!python || (python.startsWith("/") && !existsSync(python))) continue;
    if (spawnSync(python, ["-c", "import moto.server"], { stdio: "ignore" }).status === 0) {
      motoCommand = { command: python, args: (port) => [SERIAL_SERVER, "127.0.0.1", String(port)] };
      return motoCommand;
    }
  }
  for (const binary of [script, LOCAL_VENV_SERVER]) {
    if (!binary || !existsSync(binary)) continue;
    process.stderr.write(
      `moto: no Python here imports moto.server, so ${binary} runs without the request lock (conditional writes may race)\n`,
    );
    motoCommand = { command: binary, args: (port) => ["-H", "127.0.0.1", "-p", String(port)] };
    return motoCommand;
  }
  throw new Error(INSTALL_HINT);
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${output()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not come up at ${endpoint}: ${output()}`);
}

/**
 * Starts moto's server on 127.0.0.1:PORT (one request at a time) and sets fake credentials and AWS_ENDPOINT_URL in this
 * process so every SDK client talks to it. Call `stop()` in afterAll.
 */
export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // moto's server behind one lock (see moto_serial_server.py): conditional writes stay atomic.
  const launcher = motoLauncher();
  const child = spawn(launcher.command, launcher.args(port), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  await waitUntilUp(endpoint, child, () => log);

  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_ACCESS_KEY_ID = "testing";
  process.env.AWS_SECRET_ACCESS_KEY = "testing";
  process.env.AWS_REGION ??= "us-east-1";
  delete process.env.AWS_PROFILE;

  return {
    endpoint,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      });
    },
  };
}

/**
 * One moto server for the enclosing describe block (or file): started in beforeAll, stopped in
 * afterAll. The returned object stands for that server once it is up, so tests call
 * `moto.reset()` and read `moto.endpoint` as they would on `startMoto()`'s.
 */
export function useMoto(): Moto {
  let started: Moto | undefined;
  const server = (): Moto => {
    if (!started) throw new Error("moto is not started yet: use it inside a hook or a test");
    return started;
  };
  beforeAll(async () => {
    started = await startMoto();
  }, 60_000);
  afterAll(async () => {
    await started?.stop();
  });
  return {
    get endpoint() {
      return server().endpoint;
    },
    reset: () => server().reset(),
    stop: () => server().stop(),
  };
}
