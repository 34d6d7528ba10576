import { describe, expect, it } from "vitest";
import { discoveryProgressLine, progressLine, statusLine } from "../../lib/cli/progress.ts";

function stderrCapture() {
  const err: string[] = [];
  return { err, io: { stdout: () => undefined, stderr: (t: string) => err.push(t), interactive: true } };
}

describe("the CLI progress line", () => {
  it("overwrites one line and erases it only if something was shown", () => {
    // Arrange
    const { err, io } = stderrCapture();
    const line = statusLine(io);
    // Act
    line.clear();
    line.show("a longer first text");
    line.show("short");
    line.clear();
    line.clear();
    // Assess
    expect(err).toEqual(["\ra longer first text\x1b[K", "\rshort\x1b[K", "\r\x1b[K"]);
  });

  it("renders scan and discovery progress through the same line", () => {
    // Arrange
    const { err, io } = stderrCapture();
    const scan = progressLine(io);
    const discovery = discoveryProgressLine(io, "inventory");
    // Act
    scan.update({ probesDone: 1, probesTotal: 3, open: 2 });
    scan.done();
    discovery.update({ account: "111111111111", region: "eu-west-1", done: 2, total: 8, ok: true });
    discovery.done();
    // Assess
    expect(err).toEqual([
      "\rscanning: 33% of 3 ports, 2 open\x1b[K",
      "\r\x1b[K",
      "\rinventory: 2/8 account-regions (111111111111 eu-west-1)\x1b[K",
      "\r\x1b[K",
    ]);
  });
});
