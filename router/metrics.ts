// A small metrics registry with a hand-written Prometheus text exposition
// (format 0.0.4): counters, gauges and histograms with labels, and gauges
// read at scrape time (process memory). New families (wake-ups, instances)
// are one `registry.counter(...)` away.

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const formatLabels = (names: readonly string[], values: readonly string[], extra = ''): string => {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
};
const formatNumber = (n: number): string => (Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN');

interface Family {
  readonly name: string;
  render(): string;
}

abstract class Labelled<Child> implements Family {
  protected readonly children = new Map<string, { values: string[]; child: Child }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly type: string,
  ) {}
  protected abstract make(): Child;
  protected abstract lines(labels: string[], child: Child): string[];

  /** The series for these label values (in labelNames order), made on first use. Keep it: lookups cost a join. */
  labels(...values: string[]): Child {
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      entry = { values, child: this.make() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** Forgets one series (an app that was deleted). */
  remove(...values: string[]): void {
    this.children.delete(values.join('\u0000'));
  }

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, child } of this.children.values()) out.push(...this.lines(values, child));
    return out.join('\n') + '\n';
  }
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class Counter extends Labelled<CounterChild> {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, 'counter');
  }
  protected make(): CounterChild {
    return new CounterChild();
  }
  protected lines(values: string[], c: CounterChild): string[] {
    return [`${this.name}${formatLabels(this.labelNames, values)} ${formatNumber(c.value)}`];
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

export class Gauge extends Labelled<GaugeChild> {
  /** COLLECT, when given, sets the values just before each scrape. */
  constructor(name: string, help: string, labelNames: readonly string[] = [], readonly collect?: (g: Gauge) => void) {
    super(name, help, labelNames, 'gauge');
  }
  protected make(): GaugeChild {
    return new GaugeChild();
  }
  protected lines(values: string[], g: GaugeChild): string[] {
    return [`${this.name}${formatLabels(this.labelNames, values)} ${formatNumber(g.value)}`];
  }
  override render(): string {
    this.collect?.(this);
    return super.render();
  }
}

export class HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

export class Histogram extends Labelled<HistogramChild> {
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames, 'histogram');
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  protected make(): HistogramChild {
    return new HistogramChild(this.buckets);
  }
  protected lines(values: string[], h: HistogramChild): string[] {
    const out: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += h.counts[i]!;
      out.push(`${this.name}_bucket${formatLabels(this.labelNames, values, `le="${formatNumber(le)}"`)} ${cumulative}`);
    });
    out.push(`${this.name}_bucket${formatLabels(this.labelNames, values, 'le="+Inf"')} ${h.count}`);
    out.push(`${this.name}_sum${formatLabels(this.labelNames, values)} ${formatNumber(h.sum)}`);
    out.push(`${this.name}_count${formatLabels(this.labelNames, values)} ${h.count}`);
    return out;
  }
}

export class Registry {
  private readonly families = new Map<string, Family>();

  private add<F extends Family>(family: F): F {
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.families.set(family.name, family);
    return family;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (g: Gauge) => void): Gauge {
    return this.add(new Gauge(name, help, labelNames, collect));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** The Prometheus text exposition of every family. */
  render(): string {
    return [...this.families.values()].map((f) => f.render()).join('');
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Latency buckets in seconds, from a fast static answer to the 60 s upstream timeout. */
export const WAKE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 1, 2.5, 5, 10, 30];
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The router's metric families, and per-app series cached so the hot path does no label lookups. */
export class RouterMetrics {
  readonly registry = new Registry();
  readonly requests = this.registry.counter('shipoff_http_requests_total', 'HTTP requests answered, by app and status class.', ['app', 'code']);
  readonly duration = this.registry.histogram('shipoff_http_request_duration_seconds', 'Time from request to the end of the response, by app.', ['app'], LATENCY_BUCKETS);
  readonly inFlight = this.registry.gauge('shipoff_http_requests_in_flight', 'Requests being proxied now, by app.', ['app']);
  readonly upstreamErrors = this.registry.counter('shipoff_upstream_errors_total', 'Requests an app failed to answer, by app and kind (refused, reset, timeout, protocol).', ['app', 'kind']);
  readonly rss = this.registry.gauge('process_resident_memory_bytes', 'Resident memory of the router process.', [], (g) => g.labels().set(process.memoryUsage.rss()));
  readonly heap = this.registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use by the router process.', [], (g) => g.labels().set(process.memoryUsage().heapUsed));
  readonly external = this.registry.gauge('nodejs_external_memory_bytes', 'Memory outside the V8 heap (buffers) held by the router process.', [], (g) => g.labels().set(process.memoryUsage().external));
  readonly routedApps = this.registry.gauge('shipoff_router_apps', 'Apps with at least one backend in the route table.');
  /** Apps that have a shipoff_web_instances series. */
  readonly webInstanceApps = new Set<string>();
  readonly webInstances = this.registry.gauge('shipoff_web_instances', 'Web instances taking traffic now, by app (0 while the app sleeps).', ['app']);
  readonly wakeups = this.registry.counter('shipoff_wakeups_total', 'Sleeping apps woken by a request, by app and result (ok, failed).', ['app', 'result']);
  readonly wakeDuration = this.registry.histogram('shipoff_wake_duration_seconds', 'Time from the first request to a sleeping app until it could be answered.', ['app'], WAKE_BUCKETS);

  private readonly perApp = new Map<string, AppSeries>();

  app(name: string): AppSeries {
    let s = this.perApp.get(name);
    if (!s) {
      s = new AppSeries(this, name);
      this.perApp.set(name, s);
    }
    return s;
  }
}

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class AppSeries {
  private readonly byClass: CounterChild[];
  readonly duration: HistogramChild;
  readonly inFlight: GaugeChild;
  constructor(
    private readonly metrics: RouterMetrics,
    private readonly app: string,
  ) {
    this.byClass = CLASSES.map((c) => metrics.requests.labels(app, c));
    this.duration = metrics.duration.labels(app);
    this.inFlight = metrics.inFlight.labels(app);
  }

  /** One answered request: STATUS (0 or 499 when the client left first counts as 4xx) and its duration. */
  observe(status: number, seconds: number): void {
    const cls = Math.floor(status / 100) - 1;
    (this.byClass[cls] ?? this.byClass[3]!).inc();
    this.duration.observe(seconds);
  }

  upstreamError(kind: string): void {
    this.metrics.upstreamErrors.labels(this.app, kind).inc();
  }
}

