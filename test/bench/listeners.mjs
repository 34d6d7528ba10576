// Benchmark listeners: accept and drop. Usage: node listeners.mjs HOST PORT...
// or node listeners.mjs --pairs HOST:PORT... (IPv4 hosts; many hosts in one process).
import { createServer } from "node:net";

const args = process.argv.slice(2);
const pairs =
  args[0] === "--pairs"
    ? args.slice(1).map((p) => [p.slice(0, p.lastIndexOf(":")), p.slice(p.lastIndexOf(":") + 1)])
    : args.slice(1).map((port) => [args[0], port]);
for (const [host, port] of pairs)
  createServer((s) => s.destroy()).listen({ host, port: Number(port), backlog: 511 });
console.log("ready");
// Stay up even with nothing to listen on (a batch of silent nodes): the caller kills us.
setInterval(() => {}, 1 << 30);
