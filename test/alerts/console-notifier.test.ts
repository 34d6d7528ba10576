import { describe, expect, it } from "vitest";
import { ConsoleNotifier } from "../../lib/alerts/console-notifier.ts";
import { alertEvent } from "./events.ts";

describe("ConsoleNotifier", () => {
  it("writes one line per alert, most severe first, and accepts every alert", async () => {
    // Prepare
    const written: string[] = [];
    const notifier = new ConsoleNotifier({ write: (text) => written.push(text) });
    const ssh = alertEvent({ id: "a-ssh" }, { port: 22, service: "ssh", severity: "medium" });
    const kubelet = alertEvent({ id: "a-kubelet" });
    // Act
    const outcome = await notifier.publish([ssh, kubelet]);
    // Assess
    expect(written.map((line) => line.split(/ +/)[0])).toEqual(["CRITICAL", "MEDIUM"]);
    expect(written.every((line) => line.endsWith("\n") && line.indexOf("\n") === line.length - 1)).toBe(true);
    expect(outcome).toEqual({ accepted: ["a-kubelet", "a-ssh"], failed: [] });
  });

  it("writes the round summary as one line", async () => {
    // Prepare
    const written: string[] = [];
    const notifier = new ConsoleNotifier({ write: (text) => written.push(text) });
    // Act
    await notifier.summary({
      roundId: "r-2",
      startedAt: "2026-11-29T03:00:00.000Z",
      targets: 1,
      complete: true,
      newExposures: 0,
      resolved: 1,
      openExposures: 2,
      incompleteScans: 0,
    });
    // Assess
    expect(written).toEqual(["round r-2: 1 target, complete, 0 new, 1 resolved, 2 open\n"]);
  });
});
