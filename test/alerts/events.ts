import type { AlertEvent, Finding } from "../../lib/findings/types.ts";

/** A "new critical kubelet exposure" alert; override what the test is about. */
export function alertEvent(overrides: Partial<AlertEvent> = {}, finding: Partial<Finding> = {}): AlertEvent {
  const f: Finding = {
    ip: "127.0.2.1",
    port: 10250,
    service: "kubelet",
    severity: "critical",
    kind: "exposed",
    evidence: "GET /pods answered 200 without credentials",
    account: "111122223333",
    region: "eu-west-1",
    cluster: "prod",
    instanceId: "i-0abc123",
    ...finding,
  };
  return {
    id: `new#${f.ip}#${f.port}#2026-11-29T03:00:00.000Z`,
    eventType: "new",
    finding: f,
    firstSeen: "2026-11-29T03:00:00.000Z",
    at: "2026-11-29T03:00:05.000Z",
    ...overrides,
  };
}
