import type { IpPermission, SecurityGroup } from "@aws-sdk/client-ec2";
import { describe, expect, it } from "vitest";
import type { ClusterInventory } from "../../lib/discovery/types.ts";
import { endpointFindings } from "../../lib/exposure/eks-endpoint.ts";
import { analyzeIngress, classifyCidr } from "../../lib/exposure/security-groups.ts";

function group(id: string, ...permissions: IpPermission[]): SecurityGroup {
  return { GroupId: id, IpPermissions: permissions };
}

function tcp(from: number, to: number, cidrs: string[], ipv6: string[] = []): IpPermission {
  return {
    IpProtocol: "tcp",
    FromPort: from,
    ToPort: to,
    IpRanges: cidrs.map((CidrIp) => ({ CidrIp })),
    Ipv6Ranges: ipv6.map((CidrIpv6) => ({ CidrIpv6 })),
  };
}

describe("analyzeIngress", () => {
  it("merges overlapping and adjacent world-open ranges into one compact SPEC", () => {
    // Prepare
    const groups = [
      group("sg-a", tcp(30000, 31000, ["0.0.0.0/0"]), tcp(30500, 32767, ["0.0.0.0/0"])),
      group("sg-b", tcp(10250, 10250, ["0.0.0.0/0"]), tcp(10251, 10251, ["0.0.0.0/0"])),
    ];

    // Act
    const result = analyzeIngress(groups);

    // Assess
    expect(result.internet.toSpec()).toBe("10250-10251,30000-32767");
  });

  it("treats protocol -1 to the world as every TCP port", () => {
    const groups = [group("sg-a", { IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] })];

    const result = analyzeIngress(groups);

    expect(result.internet.toSpec()).toBe("1-65535");
  });

  it("ignores UDP and ICMP rules open to the world", () => {
    const groups = [
      group(
        "sg-a",
        { IpProtocol: "udp", FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
        { IpProtocol: "icmp", FromPort: -1, ToPort: -1, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      ),
    ];

    const result = analyzeIngress(groups);

    expect(result.internet.isEmpty).toBe(true);
  });

  it("counts an IPv6-only ::/0 rule as open to the internet", () => {
    const groups = [group("sg-a", tcp(6443, 6443, [], ["::/0"]))];

    const result = analyzeIngress(groups);

    expect(result.internet.toSpec()).toBe("6443");
  });

  it("finds a /0 hidden among private CIDRs of the same rule", () => {
    const groups = [
      group("sg-a", tcp(10250, 10250, ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "172.16.0.0/12"])),
    ];

    const result = analyzeIngress(groups);

    expect({ internet: result.internet.toSpec(), publicCidrs: result.publicCidrs.toSpec() }).toEqual({
      internet: "10250",
      publicCidrs: "",
    });
  });

  it("puts a port open to a public /8 under public CIDRs, not the internet", () => {
    const groups = [group("sg-a", tcp(22, 22, ["3.0.0.0/8"]))];

    const result = analyzeIngress(groups);

    expect({ internet: result.internet.toSpec(), publicCidrs: result.publicCidrs.toSpec() }).toEqual({
      internet: "",
      publicCidrs: "22",
    });
  });

  it("keeps a rule that references another security group internal", () => {
    const groups = [
      group("sg-a", {
        IpProtocol: "tcp",
        FromPort: 10250,
        ToPort: 10250,
        UserIdGroupPairs: [{ GroupId: "sg-b" }],
      }),
    ];

    const result = analyzeIngress(groups);

    expect({ internet: result.internet.toSpec(), publicCidrs: result.publicCidrs.toSpec() }).toEqual({
      internet: "",
      publicCidrs: "",
    });
  });

  it("keeps a prefix-list rule internal", () => {
    const groups = [
      group("sg-a", {
        IpProtocol: "tcp",
        FromPort: 443,
        ToPort: 443,
        PrefixListIds: [{ PrefixListId: "pl-123" }],
      }),
    ];

    const result = analyzeIngress(groups);

    expect({ internet: result.internet.toSpec(), publicCidrs: result.publicCidrs.toSpec() }).toEqual({
      internet: "",
      publicCidrs: "",
    });
  });

  it("keeps the sets disjoint and leaves internal-only ports out: world beats public beats internal", () => {
    const groups = [
      group("sg-a", tcp(1, 1000, ["10.0.0.0/8"])),
      group("sg-b", tcp(100, 200, ["198.51.100.7/32"])),
      group("sg-c", tcp(150, 160, ["0.0.0.0/0"])),
    ];

    const result = analyzeIngress(groups);

    expect({ internet: result.internet.toSpec(), publicCidrs: result.publicCidrs.toSpec() }).toEqual({
      internet: "150-160",
      publicCidrs: "100-149,161-200",
    });
  });

  it("reads a TCP rule without port bounds as every port", () => {
    const groups = [group("sg-a", { IpProtocol: "6", IpRanges: [{ CidrIp: "0.0.0.0/0" }] })];

    const result = analyzeIngress(groups);

    expect(result.internet.toSpec()).toBe("1-65535");
  });
});

describe("classifyCidr", () => {
  it.each([
    ["0.0.0.0/0", "internet"],
    ["::/0", "internet"],
    ["10.1.0.0/16", "internal"],
    ["172.31.5.0/24", "internal"],
    ["100.64.0.0/10", "internal"],
    ["fd00:1::/64", "internal"],
    ["172.0.0.0/8", "public"],
    ["2600:1f18::/32", "public"],
    ["8.8.8.8/32", "public"],
    ["not-a-cidr", "public"],
  ])("classifies %s as %s", (cidr, scope) => {
    expect(classifyCidr(cidr)).toBe(scope);
  });
});

describe("endpointFindings", () => {
  const cluster = (endpoint: ClusterInventory["endpoint"]): ClusterInventory => ({
    account: "111111111111",
    region: "us-east-1",
    name: "prod",
    kind: "eks",
    ...(endpoint ? { endpoint } : {}),
    nodes: [],
  });

  it("flags a public endpoint open to 0.0.0.0/0 with private access off as high", () => {
    const findings = endpointFindings(
      cluster({
        url: "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        publicAccess: true,
        privateAccess: false,
        publicAccessCidrs: ["0.0.0.0/0"],
      }),
    );

    expect(findings.map((f) => [f.service, f.severity, f.port, f.evidence])).toEqual([
      [
        "eks-api-endpoint",
        "high",
        443,
        "EKS API endpoint abc.gr7.us-east-1.eks.amazonaws.com accepts connections from 0.0.0.0/0; private access is off",
      ],
    ]);
  });

  it("rates a world-open endpoint with private access on as medium", () => {
    const findings = endpointFindings(
      cluster({ publicAccess: true, privateAccess: true, publicAccessCidrs: ["0.0.0.0/0"] }),
    );

    expect(findings.map((f) => f.severity)).toEqual(["medium"]);
  });

  it("does not flag a public endpoint restricted to specific CIDRs", () => {
    const findings = endpointFindings(cluster({ publicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] }));

    expect(findings).toEqual([]);
  });

  it("does not flag a private-only endpoint", () => {
    const findings = endpointFindings(
      cluster({ publicAccess: false, privateAccess: true, publicAccessCidrs: [] }),
    );

    expect(findings).toEqual([]);
  });

  it("does not flag a self-managed cluster without an endpoint record", () => {
    const selfManaged: ClusterInventory = { ...cluster(undefined), kind: "self-managed" };
    expect(endpointFindings(selfManaged)).toEqual([]);
  });
});
