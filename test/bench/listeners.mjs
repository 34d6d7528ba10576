// Benchmark listeners: accept and drop. Usage: node listeners.mjs HOST PORT...
import { createServer } from "node:net";

const [host, ...ports] = process.argv.slice(2);
for (const port of ports) createServer((s) => s.destroy()).listen({ host, port: Number(port), backlog: 511 });
console.log("ready");
