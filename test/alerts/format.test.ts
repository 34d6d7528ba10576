import { describe, expect, it } from "vitest";
import {
  ALERT_SCHEMA_VERSION,
  alertHeadline,
  alertMessageBody,
  consoleLine,
  emailText,
  redactSecrets,
  safeText,
  subjectLine,
  summaryLine,
} from "../../lib/alerts/format.ts";
import { alertEvent } from "./events.ts";

describe("alert wording", () => {
  it("states severity, event, service and endpoint in the headline", () => {
    // Prepare
    const event = alertEvent();
    // Act
    const headline = alertHeadline(event);
    // Assess
    expect(headline).toBe("CRITICAL new exposure: kubelet on 127.0.2.1:10250");
  });

  it("names a resolved exposure and its former severity", () => {
    // Prepare
    const event = alertEvent({ eventType: "resolved" });
    // Act
    const headline = alertHeadline(event);
    // Assess
    expect(headline).toBe("RESOLVED exposure: kubelet on 127.0.2.1:10250 (was critical)");
  });

  it("puts severity, event, kind, endpoint, service, evidence and location on one console line", () => {
    // Prepare
    const event = alertEvent();
    // Act
    const line = consoleLine(event);
    // Assess
    expect(line).toMatch(
      /^CRITICAL +NEW +exposed +127\.0\.2\.1:10250 +kubelet +GET \/pods answered 200 without credentials {2}\[account 111122223333, region eu-west-1, cluster prod, node i-0abc123\]$/,
    );
  });

  it("leaves the location out of the console line when the target came from --targets", () => {
    // Prepare
    const event = alertEvent(
      {},
      { account: undefined, region: undefined, cluster: undefined, instanceId: undefined },
    );
    // Act
    const line = consoleLine(event);
    // Assess
    expect(line).not.toContain("[");
  });

  it("shows an IPv6 endpoint in brackets and a latent range as its spec", () => {
    // Prepare
    const latent = alertEvent({}, { ip: "::1", port: 30000, portSpec: "30000-32767", kind: "latent" });
    // Act
    const headline = alertHeadline(latent);
    // Assess
    expect(headline).toBe("CRITICAL new latent exposure: kubelet on [::1]:30000-32767");
  });

  it("names the cluster, not a made-up address, for a cluster-level finding", () => {
    // Prepare
    const endpoint = alertEvent({}, { ip: "eks-0123456789abcdef", port: 443, service: "eks-api-endpoint" });
    // Act
    const headline = alertHeadline(endpoint);
    // Assess
    expect(headline).toBe("CRITICAL new exposure: eks-api-endpoint on cluster prod:443");
    expect(emailText(endpoint)).not.toContain("IP eks-");
  });

  it("keeps evidence on one line so it cannot forge further alert lines", () => {
    // Prepare
    const event = alertEvent({}, { evidence: "banner\nCRITICAL NEW exposed 10.0.0.1:22 fake" });
    // Act
    const line = consoleLine(event);
    // Assess
    expect(line.split("\n")).toHaveLength(1);
  });

  it("redacts credentials that slipped into evidence", () => {
    // Prepare
    const leaked =
      "key AKIAABCDEFGHIJKLMNOP, Authorization: Bearer abcdefgh12345678, password=hunter22, url https://admin:pw@host/x";
    // Act
    const redacted = redactSecrets(leaked);
    // Assess
    expect(redacted).toBe(
      "key [redacted], Authorization: [redacted], password=[redacted], url https://[redacted]@host/x",
    );
  });

  it("bounds the length of outside text", () => {
    // Prepare
    const long = "a".repeat(1000);
    // Act
    const text = safeText(long, 50);
    // Assess
    expect(text).toHaveLength(50);
  });

  it("makes an SNS subject of printable ASCII under 100 characters", () => {
    // Prepare
    const event = alertEvent({}, { service: `très-long-sérvice-${"x".repeat(200)}` });
    // Act
    const subject = subjectLine(alertHeadline(event));
    // Assess
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^portwarden: CRITICAL new exposure: tres-long-service-x+\.\.\.$/);
  });

  it("writes the email with what, where, why, evidence, fix and first seen", () => {
    // Prepare
    const event = alertEvent();
    // Act
    const email = emailText(event);
    // Assess
    expect(email).toContain("What:           kubelet on port 10250/tcp, severity critical, exposure");
    expect(email).toContain(
      "Where:          account 111122223333, region eu-west-1, cluster prod, node i-0abc123, IP 127.0.2.1",
    );
    expect(email).toMatch(/Why it matters: .+A security group allows this port from the internet/);
    expect(email).toContain("Evidence:       GET /pods answered 200 without credentials");
    expect(email).toMatch(/How to fix: {5}\S+/);
    expect(email).toContain("First seen:     2026-11-29T03:00:00.000Z");
  });

  it("tells the email reader that an unexplained port may be a stale IP or another path", () => {
    // Prepare
    const event = alertEvent({}, { kind: "unexplained" });
    // Act
    const email = emailText(event);
    // Assess
    expect(email).toMatch(
      /no security-group rule portwarden knows of allows it: the IP may now belong to someone else/,
    );
  });

  it("builds a versioned JSON body with the stable id and the redacted finding", () => {
    // Prepare
    const event = alertEvent({}, { evidence: "token=s3cr3t-value answered" });
    // Act
    const body = alertMessageBody(event);
    // Assess
    expect(body).toMatchObject({
      schemaVersion: ALERT_SCHEMA_VERSION,
      id: event.id,
      eventType: "new",
      finding: { ip: "127.0.2.1", port: 10250, evidence: "token=[redacted] answered" },
    });
  });

  it("summarises a round on one line and flags an incomplete one", () => {
    // Prepare
    const summary = {
      roundId: "r-1",
      startedAt: "2026-11-29T03:00:00.000Z",
      targets: 3,
      complete: false,
      newExposures: 1,
      resolved: 0,
      openExposures: 7,
      incompleteScans: 2,
    };
    // Act
    const line = summaryLine(summary);
    // Assess
    expect(line).toBe("round r-1: 3 targets, INCOMPLETE, 1 new, 0 resolved, 7 open, 2 incomplete scans");
  });
});
