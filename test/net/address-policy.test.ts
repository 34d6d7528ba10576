import { describe, expect, it } from "vitest";
import {
  AddressRefusedError,
  ALLOW_INTERNAL,
  addressRefusal,
  assertConnectable,
  classifyAddress,
  PUBLIC_ONLY,
} from "../../lib/net/address-policy.ts";

describe("address policy", () => {
  it.each([
    ["169.254.169.254", "link-local (instance metadata service)"],
    ["169.254.0.1", "link-local"],
    ["fd00:ec2::254", "AWS instance metadata service (IPv6)"],
    ["fd00:ec2::253", "AWS service range fd00:ec2::/32"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["[fe80::1]", "link-local"],
    ["0.0.0.0", "unspecified (0.0.0.0/8)"],
    ["0.1.2.3", "unspecified (0.0.0.0/8)"],
    ["::", "unspecified (::)"],
    ["224.0.0.251", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.1.2.3", "reserved (240.0.0.0/4)"],
    ["::ffff:169.254.169.254", "IPv4-mapped 169.254.169.254, link-local (instance metadata service)"],
    ["::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1, loopback"],
    ["::ffff:10.0.0.1", "IPv4-mapped 10.0.0.1, private (RFC 1918)"],
    ["::ffff:0:a9fe:a9fe", "IPv4-translated 169.254.169.254, link-local (instance metadata service)"],
    ["64:ff9b::a9fe:a9fe", "NAT64 169.254.169.254, link-local (instance metadata service)"],
    ["64:ff9b:1::a9fe:a9fe", "NAT64 169.254.169.254, link-local (instance metadata service)"],
    ["2002:a9fe:a9fe::1", "6to4 169.254.169.254, link-local (instance metadata service)"],
  ])("never connects to %s (%s), whatever the policy", (ip, why) => {
    expect(classifyAddress(ip)).toEqual({ class: "forbidden", why });
    expect(addressRefusal(ip, ALLOW_INTERNAL)).toBe(`${ip} is ${why}: never scanned`);
    expect(() => assertConnectable(ip, ALLOW_INTERNAL)).toThrow(AddressRefusedError);
  });

  it.each([
    ["127.0.0.1", "loopback"],
    ["127.10.2.3", "loopback"],
    ["::1", "loopback"],
    ["10.1.2.3", "private (RFC 1918)"],
    ["172.16.0.1", "private (RFC 1918)"],
    ["192.168.1.1", "private (RFC 1918)"],
    ["100.64.0.1", "carrier-grade NAT (100.64.0.0/10)"],
    ["fd12:3456::1", "unique local (fc00::/7)"],
  ])("scans internal %s (%s) only when a person asked", (ip, why) => {
    expect(classifyAddress(ip)).toEqual({ class: "internal", why });
    expect(addressRefusal(ip, PUBLIC_ONLY)).toBe(
      `${ip} is ${why}: scanned only when named on the command line or with --allow-private`,
    );
    expect(addressRefusal(ip, ALLOW_INTERNAL)).toBeUndefined();
  });

  it.each(["8.8.8.8", "52.1.2.3", "203.0.113.10", "2600:1f18::1", "::ffff:8.8.8.8", "64:ff9b::808:808"])(
    "scans public %s",
    (ip) => {
      expect(classifyAddress(ip)?.class).toBe("public");
      expect(addressRefusal(ip, PUBLIC_ONLY)).toBeUndefined();
    },
  );

  it.each(["127.1", "0x7f.0.0.1", "localhost", "", "1.2.3.4.5"])(
    "refuses %j, which is not an IP literal, in one line",
    (text) => {
      expect(classifyAddress(text)).toBeUndefined();
      expect(addressRefusal(text, ALLOW_INTERNAL)).toBe(
        `${JSON.stringify(text)} is not an IP address: not scanned`,
      );
    },
  );
});
