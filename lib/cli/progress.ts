import type { ScanProgress } from "../scan/types.ts";
import type { CliIo } from "./io.ts";

/** A one-line scan progress indicator on stderr, erased when done (terminals only: callers check). */
export function progressLine(io: CliIo) {
  let shown = false;
  return {
    update(p: ScanProgress) {
      shown = true;
      const pct = p.probesTotal > 0 ? Math.min(100, Math.floor((100 * p.probesDone) / p.probesTotal)) : 100;
      io.stderr(`\rscanning: ${pct}% of ${p.probesTotal} ports, ${p.open} open `);
    },
    done() {
      if (shown) io.stderr("\r\x1b[K");
    },
  };
}
