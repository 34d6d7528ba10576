import { describe, expect, it } from "vitest";
import {
  countText,
  htmlTitle,
  listSize,
  parseJsonObject,
  remoteText,
  versionText,
} from "../../lib/probes/evidence.ts";

describe("evidence made from remote text", () => {
  it("replaces control characters and newlines so evidence stays one line", () => {
    expect(remoteText("nginx\r\nX-Injected: yes\u0000")).toBe("nginx X-Injected: yes");
  });

  it("caps remote text at the given length with an ellipsis", () => {
    expect(remoteText("a".repeat(100), 10)).toBe(`${"a".repeat(9)}…`);
  });

  it("turns a non-string into empty text", () => {
    expect(remoteText(["a", "b"])).toBe("");
  });

  it("accepts a real version string", () => {
    expect(versionText("v1.29.3-eks-adc7111")).toBe("v1.29.3-eks-adc7111");
  });

  it("drops a 'version' that carries anything but version characters", () => {
    expect(versionText("1.0 <script>")).toBeUndefined();
  });

  it("reads the page title, made safe", () => {
    expect(htmlTitle("<html><TITLE lang=en>\n  Admin\tconsole </TITLE>")).toBe("Admin console");
  });

  it("parses only JSON objects", () => {
    expect([parseJsonObject("[1]"), parseJsonObject('{"a":'), parseJsonObject('{"a":1}')]).toEqual([
      undefined,
      undefined,
      { a: 1 },
    ]);
  });

  it("counts the items of a complete list", () => {
    expect(listSize('{"items":[{},{}]}', false, "pod", 16384)).toBe("2 pods");
  });

  it("says a cut list was not read further instead of guessing a count", () => {
    expect(listSize(`{"items":[${"{},".repeat(6000)}`, true, "pod", 16384)).toBe(
      "a pod list longer than 16 KB, not read further",
    );
  });

  it("never claims a list larger than 0 KB when the cut came early", () => {
    expect(listSize("", true, "pod", 16384)).toBe("a pod list that could not be read completely");
  });

  it("prints only sane counts (etcd sends int64 as strings)", () => {
    expect([countText("12", "key"), countText(1, "member"), countText("-1e+300", "key")]).toEqual([
      "12 keys",
      "1 member",
      "an unreadable key count",
    ]);
  });
});
