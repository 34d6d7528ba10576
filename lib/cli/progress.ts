import type { DiscoveryProgress } from "../discovery/options.ts";
import type { ScanProgress } from "../scan/types.ts";
import type { CliIo } from "./io.ts";

/**
 * The CLI's one progress line on stderr: each `show` overwrites it, `clear` erases it if anything
 * was shown. Terminals only: callers check `io.interactive` (and their quiet/JSON flags).
 */
export function statusLine(io: CliIo) {
  let shown = false;
  return {
    show(text: string) {
      shown = true;
      io.stderr(`\r${text}\x1b[K`);
    },
    clear() {
      if (shown) io.stderr("\r\x1b[K");
      shown = false;
    },
  };
}

/** Scan progress: share of probes done, ports in the round, open ports so far. */
export function progressLine(io: CliIo) {
  const line = statusLine(io);
  return {
    update(p: ScanProgress) {
      const pct = p.probesTotal > 0 ? Math.min(100, Math.floor((100 * p.probesDone) / p.probesTotal)) : 100;
      line.show(`scanning: ${pct}% of ${p.probesTotal} ports, ${p.open} open`);
    },
    done: line.clear,
  };
}

/** Discovery progress (`<label>: 3/8 account-regions (<account> <region>)`). */
export function discoveryProgressLine(io: CliIo, label: string) {
  const line = statusLine(io);
  return {
    update(p: DiscoveryProgress) {
      line.show(`${label}: ${p.done}/${p.total} account-regions (${p.account} ${p.region})`);
    },
    done: line.clear,
  };
}
