import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

/** Every file the module pulls in, as esbuild resolves them for a bundle. */
async function inputsOf(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return Object.keys(result.metafile.inputs);
}

describe("what the scanner loads", () => {
  // The EMFILE scenario runs the scanner at a 64-descriptor limit: a module graph that opens
  // dozens of files (zod and its locales) fails there before the scan starts.
  it("the scanner and the SPEC parser load no zod", async () => {
    for (const entry of [
      "lib/scan/scanner.ts",
      "lib/ports/port-spec.ts",
      "test/scan/fixtures/scan-scenario.ts",
    ]) {
      const inputs = await inputsOf(entry);
      expect(
        inputs.filter((path) => path.includes("node_modules/zod")),
        entry,
      ).toEqual([]);
    }
  });

  it("sees zod where it is used (so the check above can fail)", async () => {
    const inputs = await inputsOf("lib/ports/port-set-schema.ts");
    expect(inputs.some((path) => path.includes("node_modules/zod"))).toBe(true);
  });
});
