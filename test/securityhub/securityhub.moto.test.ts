import { paginateGetFindings, SecurityHubClient } from "@aws-sdk/client-securityhub";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConsoleNotifier } from "../../lib/alerts/console-notifier.ts";
import { FanOutNotifier } from "../../lib/alerts/fanout-notifier.ts";
import type { AlertEvent } from "../../lib/findings/types.ts";
import { ALLOW_INTERNAL } from "../../lib/net/address-policy.ts";
import { parsePortSpec } from "../../lib/ports/port-spec.ts";
import { runRound } from "../../lib/round/run-round.ts";
import type { ScanOptions, ScanResult } from "../../lib/scan/types.ts";
import { asffFindingId, type SecurityHubDestination } from "../../lib/securityhub/asff.ts";
import { SecurityHubNotifier } from "../../lib/securityhub/publisher.ts";
import { MemoryStateStore } from "../../lib/state/memory-state-store.ts";
import { alertEvent } from "../alerts/events.ts";
import { type Moto, startMoto } from "../support/moto.ts";

const TO: SecurityHubDestination = { account: "123456789012", region: "us-east-1", partition: "aws" };
const PORTS = parsePortSpec("22,10250");
const T0 = Date.parse("2026-11-29T00:00:00Z");
const A = "127.0.4.1";

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => moto?.stop());
beforeEach(async () => moto.reset());

/** A real client pointed at moto that counts BatchImportFindings calls. */
function countingClient(): { client: SecurityHubClient; imports: () => number } {
  const client = new SecurityHubClient({ region: TO.region, endpoint: moto.endpoint });
  let calls = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "BatchImportFindingsCommand") calls++;
      return next(args);
    },
    { step: "initialize" },
  );
  return { client, imports: () => calls };
}

async function findings(client: SecurityHubClient) {
  const all = [];
  for await (const page of paginateGetFindings({ client }, {})) all.push(...(page.Findings ?? []));
  return all;
}

/** What the scan "sees" each round: a table, like the stage tests (the hub is what is under test). */
function scanOf(open: number[]) {
  return async (hosts: string[], _opts: ScanOptions): Promise<ScanResult[]> =>
    hosts.map((ip) => ({ target: ip, ip, open, closed: 1, filtered: 0, complete: true, durationMs: 1 }));
}

describe("Security Hub findings through the round (moto)", () => {
  it("imports on new, not on an unchanged round, archives on resolve and reactivates the same id on reopen", async () => {
    const { client, imports } = countingClient();
    const store = new MemoryStateStore();
    const notifier = new FanOutNotifier([
      new ConsoleNotifier({ write: () => {} }),
      new SecurityHubNotifier({ client, destination: TO }),
    ]);
    const target = {
      ip: A,
      account: "111122223333",
      region: "eu-west-1",
      cluster: "prod",
      instanceId: "i-0abc",
    };
    const round = (hour: number, open: number[]) =>
      runRound(
        [target],
        { scan: scanOf(open), probe: async () => [], store, notifier, addressPolicy: ALLOW_INTERNAL },
        {
          ports: PORTS,
          now: () => new Date(T0 + hour * 3600_000),
        },
      );

    await round(0, [10250]);
    let [f] = await findings(client);
    expect(imports()).toBe(1);
    expect(f?.Id).toBe(asffFindingId({ ip: A, port: 10250, kind: "exposed" }));
    expect(f?.RecordState).toBe("ACTIVE");
    expect(f?.Compliance?.Status).toBe("FAILED");
    expect(f?.AwsAccountId).toBe(TO.account);
    expect(f?.ProductArn).toBe("arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default");
    expect(f?.Resources?.map((r) => r.Id)).toEqual([
      "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc",
      "arn:aws:eks:eu-west-1:111122223333:cluster/prod",
    ]);
    expect(f?.Network).toMatchObject({ DestinationIpV4: A, DestinationPort: 10250, Protocol: "TCP" });

    await round(1, [10250]);
    expect(imports()).toBe(1); // unchanged: nothing imported

    await round(2, []);
    await round(3, []); // second complete miss: resolved
    [f] = await findings(client);
    expect(imports()).toBe(2);
    expect(f?.RecordState).toBe("ARCHIVED");
    expect(f?.Compliance?.Status).toBe("PASSED");

    await round(30, [10250]); // past the flap quiet period: a reopen
    const all = await findings(client);
    expect(all).toHaveLength(1);
    expect(all[0]?.Id).toBe(asffFindingId({ ip: A, port: 10250, kind: "exposed" }));
    expect(all[0]?.RecordState).toBe("ACTIVE");
    expect(all[0]?.Compliance?.Status).toBe("FAILED");
    expect(imports()).toBe(3);
  });

  it("imports 250 alerts in three calls of at most 100", async () => {
    const { client, imports } = countingClient();
    const hub = new SecurityHubNotifier({ client, destination: TO });
    const events: AlertEvent[] = Array.from({ length: 250 }, (_, i) =>
      alertEvent({ id: `a${i}` }, { ip: `127.0.${Math.floor(i / 200)}.${(i % 200) + 1}` }),
    );
    const out = await hub.publish(events);
    expect(out.accepted).toHaveLength(250);
    expect(imports()).toBe(3);
    expect(await findings(client)).toHaveLength(250);
  });
});
