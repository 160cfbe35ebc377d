// Rates from cumulative counters: the router counts requests, latencies (a
// histogram) and wake-ups since it started; the dashboard wants requests per
// second, a recent p95 and a short history. Pure: fed one reading per sample.

/** One app's counters as the router has them now (cumulative). */
export interface Reading {
  requests: number;
  wakeups: number;
  /** Latency histogram: count per bucket (not cumulative), and the total count (past the last bound too). */
  latencyCounts: readonly number[];
  latencyCount: number;
}

export interface Rates {
  rps: number;
  p95Ms?: number;
  rpsHistory: number[];
  wakeHistory: number[];
}

type Delta = { requests: number; wakeups: number; latency: number[]; over: number };

export class RateSampler {
  private readonly last = new Map<string, Reading>();
  private readonly deltas = new Map<string, Delta[]>();

  /**
   * @param bounds the histogram's upper bounds, seconds, ascending
   * @param sampleSeconds time between two samples
   * @param keep samples kept for the history
   * @param p95Samples samples the p95 is taken over
   */
  constructor(
    private readonly bounds: readonly number[],
    readonly sampleSeconds: number,
    private readonly keep = 90,
    private readonly p95Samples = 15,
  ) {}

  /** Records one reading of APP; the first one only sets the baseline. */
  sample(app: string, now: Reading): void {
    const before = this.last.get(app);
    this.last.set(app, { ...now, latencyCounts: [...now.latencyCounts] });
    if (!before) return;
    const latency = now.latencyCounts.map((c, i) => Math.max(0, c - (before.latencyCounts[i] ?? 0)));
    const sumNow = now.latencyCounts.reduce((a, b) => a + b, 0);
    const sumBefore = before.latencyCounts.reduce((a, b) => a + b, 0);
    const over = Math.max(0, now.latencyCount - sumNow - (before.latencyCount - sumBefore));
    const list = this.deltas.get(app) ?? [];
    // A counter that went down (the router restarted) counts from zero.
    const diff = (a: number, b: number): number => (a >= b ? a - b : a);
    list.push({ requests: diff(now.requests, before.requests), wakeups: diff(now.wakeups, before.wakeups), latency, over });
    if (list.length > this.keep) list.splice(0, list.length - this.keep);
    this.deltas.set(app, list);
  }

  /** Forgets apps not in KEEP (deleted or renamed). */
  retain(keep: ReadonlySet<string>): void {
    for (const app of [...this.last.keys()]) if (!keep.has(app)) (this.last.delete(app), this.deltas.delete(app));
  }

  rates(app: string): Rates {
    const list = this.deltas.get(app) ?? [];
    const rpsHistory = list.map((d) => d.requests / this.sampleSeconds);
    const wakeHistory = list.map((d) => d.wakeups);
    const recent = list.slice(-this.p95Samples);
    const counts = this.bounds.map((_, i) => recent.reduce((sum, d) => sum + (d.latency[i] ?? 0), 0));
    const over = recent.reduce((sum, d) => sum + d.over, 0);
    const p95 = quantile(this.bounds, counts, over, 0.95);
    return { rps: rpsHistory.at(-1) ?? 0, ...(p95 !== undefined ? { p95Ms: p95 * 1000 } : {}), rpsHistory, wakeHistory };
  }
}

/**
 * The Q quantile of a histogram (Prometheus' histogram_quantile): linear
 * within the bucket it falls in; past the last bound, that bound. Undefined
 * without observations.
 */
export function quantile(bounds: readonly number[], counts: readonly number[], over: number, q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0) + over;
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i] ?? 0;
    if (seen + c >= rank && c > 0) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return bounds.at(-1);
}
