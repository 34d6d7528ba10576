/**
 * Run by self-connect.netns.test.ts inside a fresh network namespace whose ephemeral port range
 * is two ports wide, so connects to our own addresses meet their own port (TCP self-connect) often.
 * Prints one JSON line: what scanHosts reported, and how many raw self-connects a plain
 * net.Socket saw (the control: proof that the scenario really produces self-connects).
 */
import { connect } from "node:net";
import { parsePortSpec } from "../../../lib/ports/port-spec.ts";
import { scanHosts } from "../../../lib/scan/scanner.ts";

const [ports = "40000-40001", rounds = "20", ...targets] = process.argv.slice(2);

function rawSelfConnects(ip: string, port: number, tries: number): Promise<number> {
  let seen = 0;
  const once = () =>
    new Promise<void>((resolve) => {
      const socket = connect({ host: ip, port });
      socket.once("connect", () => {
        if (socket.localPort === port) seen++;
        socket.destroy();
        resolve();
      });
      socket.once("error", () => resolve());
    });
  return (async () => {
    for (let i = 0; i < tries; i++) await once();
    return seen;
  })();
}

const open: Record<string, number[]> = {};
for (let round = 0; round < Number(rounds); round++) {
  const results = await scanHosts(targets, { ports: parsePortSpec(ports, "ports") });
  for (const result of results) {
    open[result.target] = [...new Set([...(open[result.target] ?? []), ...result.open])];
    if (result.error) open[`${result.target} error`] = [];
  }
}
const control = await rawSelfConnects(
  targets[0] as string,
  parsePortSpec(ports, "ports").toArray()[0] as number,
  40,
);
console.log(JSON.stringify({ open, control }));
