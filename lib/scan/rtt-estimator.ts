/**
 * Adaptive probe timeout from observed connect round trips (RFC 6298 smoothing), clamped to a
 * floor and a ceiling. Silence (SG drops) costs exactly one timeout per probe, so this number sets
 * the speed of a scan of a firewalled host.
 */
export interface TimeoutPolicy {
  /** Before any answer. Default 500 ms (nmap -T4's initial RTT timeout). */
  initialMs: number;
  /**
   * Never wait less than this. Default 50 ms: nmap -T4 uses 100 ms, but it applies only once the
   * host has answered (so its RTT is known to be far below it) and the retry passes absorb the rare
   * late answer; a fully firewalled host costs 2 x ports / budget x floor, so this halves it.
   */
  floorMs: number;
  /** Never wait more than this. Default 1500 ms. */
  ceilingMs: number;
}

export const DEFAULT_TIMEOUTS: TimeoutPolicy = { initialMs: 500, floorMs: 50, ceilingMs: 1500 };

export class RttEstimator {
  private srtt = -1;
  private rttvar = 0;
  private current: number;
  samples = 0;

  constructor(private readonly policy: TimeoutPolicy = DEFAULT_TIMEOUTS) {
    this.current = policy.initialMs;
  }

  /** Feeds one measured round trip (ms) from a connect that answered (SYN-ACK or RST). */
  observe(rttMs: number): void {
    this.samples++;
    if (this.srtt < 0) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    const raw = this.srtt + 4 * this.rttvar;
    this.current = Math.min(this.policy.ceilingMs, Math.max(this.policy.floorMs, raw));
  }

  /** How long a probe may stay unanswered before it counts as dropped. */
  get timeoutMs(): number {
    return this.current;
  }
}
