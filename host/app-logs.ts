// `logs APP [-t]`: an app's output from every instance and the router's access
// lines, oldest first, like `heroku logs`. Without follow it is a snapshot: the
// last N lines of each instance and of the router, merged by time, the last N
// of those. With follow it prints that snapshot and then whatever comes next,
// picking up instances that start later (a deploy, a wake, a restart, a scale)
// by listing the app's instances every second, until the signal aborts.
import type { LogLine } from '../admin/index.js';
import type { App } from '../core/index.js';
import type { Instance, Runtime } from '../runtimes/index.js';
import type { AccessEntry, AccessLog } from './access-log.js';

export interface AppLogsDeps {
  runtime: Runtime;
  accessLog: AccessLog;
}

export interface AppLogsOptions {
  follow: boolean;
  lines: number;
  processType?: string;
  signal: AbortSignal;
}

const POLL_MS = 1_000;
/** Lines a slow client may fall behind by before the oldest are skipped. */
const QUEUE_LIMIT = 10_000;

/** `2026-11-25T08:00:00.123456789Z text`: Docker's timestamped line, to a Date (milliseconds) and the text. */
export function parseTimestamped(raw: string): { at: Date; text: string } | undefined {
  const space = raw.indexOf(' ');
  const stamp = space < 0 ? raw : raw.slice(0, space);
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) return undefined;
  const at = new Date(`${m[1]}.${(m[2] ?? '').padEnd(3, '0').slice(0, 3)}${m[3]}`);
  if (Number.isNaN(at.getTime())) return undefined;
  return { at, text: space < 0 ? '' : raw.slice(space + 1) };
}

const sourceOf = (i: Instance): string => `${i.processType}.${i.index}`;
const routerLine = (e: AccessEntry): LogLine => ({ at: e.at, source: 'router', text: e.text });
const isUp = (i: Instance): boolean => i.state === 'running' || i.state === 'starting' || i.state === 'paused';

/** Where one instance's output was read up to, so reading it again (since then) repeats nothing. */
class Cursor {
  private lastAt?: Date;
  /** Lines taken at lastAt's millisecond: a reread `since` then gives them again. */
  private atLast = 0;
  private toSkip = 0;
  following = false;
  /** Read to its end while it was stopped: nothing more comes until it runs again. */
  drained = false;

  constructor(readonly source: string) {}

  /** Starts a reread: the options that give what comes after the last line taken (and a little before, skipped). */
  reread(): { since?: Date } {
    this.toSkip = this.atLast;
    return this.lastAt ? { since: this.lastAt } : {};
  }

  /** The line as a LogLine, or undefined when it was taken before. */
  take(raw: string): LogLine | undefined {
    const parsed = parseTimestamped(raw);
    if (!parsed) return undefined; // not what the runtime promised: nothing to place in time
    const t = parsed.at.getTime();
    const last = this.lastAt?.getTime() ?? -Infinity;
    if (t < last) return undefined;
    if (t === last) {
      if (this.toSkip > 0) {
        this.toSkip--;
        return undefined;
      }
      this.atLast++;
    } else {
      [this.lastAt, this.atLast, this.toSkip] = [parsed.at, 1, 0];
    }
    return { at: parsed.at, source: this.source, text: parsed.text };
  }
}

export async function* appLogs(deps: AppLogsDeps, app: App, options: AppLogsOptions): AsyncGenerator<LogLine> {
  const { runtime, accessLog } = deps;
  const wanted = (i: Instance): boolean => options.processType === undefined || i.processType === options.processType;
  const withRouter = options.processType === undefined;

  // Follow: subscribe and take the recent router lines in one go (no await between), so none is lost or twice.
  const live = options.follow ? new LineQueue() : undefined;
  const unsubscribe = live && withRouter ? accessLog.subscribe(app.name, (e) => live.push(routerLine(e))) : undefined;
  const snapshot: LogLine[] = withRouter ? accessLog.recent(app.name, options.lines).map(routerLine) : [];
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  if (options.signal.aborted) stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const cursors = new Map<string, Cursor>();
    const instances = (await runtime.list(app.name)).filter(wanted);
    await Promise.all(
      instances.map(async (instance) => {
        const cursor = new Cursor(sourceOf(instance));
        cursors.set(instance.id, cursor);
        const lines = await readAll(runtime.logs(instance.id, { follow: false, tail: options.lines, timestamps: true, signal: stop.signal }), cursor);
        cursor.drained = !isUp(instance);
        snapshot.push(...lines);
      }),
    );
    snapshot.sort((a, b) => a.at.getTime() - b.at.getTime());
    yield* snapshot.slice(-options.lines);
    if (!live || stop.signal.aborted) return;

    const followers = new Followers(runtime, app.name, wanted, cursors, live, stop.signal);
    followers.poll();
    const timer = setInterval(() => followers.poll(), POLL_MS).unref();
    // A crash or Docker's restart of one: look again now rather than within the second.
    const unwatch = runtime.onEvent((event) => {
      if (event.instance.app === app.name) followers.poll();
    });
    stop.signal.addEventListener('abort', () => {
      clearInterval(timer);
      unwatch();
      live.close();
    }, { once: true });
    yield* live.lines();
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    unsubscribe?.();
    stop.abort(); // ends every docker log stream still open
    live?.close();
  }
}

/** An instance's lines read to the end, in order, without those read before. */
async function readAll(raw: AsyncIterable<string>, cursor: Cursor): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  try {
    for await (const line of raw) {
      const taken = cursor.take(line);
      if (taken) lines.push(taken);
    }
  } catch {
    // The instance went away between list and read: it has no lines to show.
  }
  return lines;
}

/** One log stream per running instance of the app, started as instances appear. */
class Followers {
  private polling = false;
  private again = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly app: string,
    private readonly wanted: (i: Instance) => boolean,
    private readonly cursors: Map<string, Cursor>,
    private readonly out: LineQueue,
    private readonly signal: AbortSignal,
  ) {}

  poll(): void {
    if (this.signal.aborted) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    this.runtime
      .list(this.app)
      .then((instances) => this.reconcile(instances.filter(this.wanted)))
      .catch(() => {}) // the engine hiccuped: the next poll tries again
      .finally(() => {
        this.polling = false;
        if (this.again) {
          this.again = false;
          this.poll();
        }
      });
  }

  private reconcile(instances: Instance[]): void {
    if (this.signal.aborted) return;
    const present = new Set(instances.map((i) => i.id));
    for (const [id, cursor] of this.cursors) if (!present.has(id) && !cursor.following) this.cursors.delete(id);
    for (const instance of instances) {
      let cursor = this.cursors.get(instance.id);
      if (!cursor) this.cursors.set(instance.id, (cursor = new Cursor(sourceOf(instance))));
      if (cursor.following) continue;
      if (isUp(instance)) cursor.drained = false;
      else if (cursor.drained) continue;
      else cursor.drained = true; // one read of what it wrote before it stopped
      void this.follow(instance.id, cursor);
    }
  }

  /** Follows until the instance stops (Docker ends the stream) or the signal aborts. */
  private async follow(id: string, cursor: Cursor): Promise<void> {
    cursor.following = true;
    try {
      for await (const raw of this.runtime.logs(id, { follow: true, timestamps: true, ...cursor.reread(), signal: this.signal })) {
        const line = cursor.take(raw);
        if (line) this.out.push(line);
      }
    } catch {
      // Removed, or the engine went away: the next poll starts over if it still runs.
    } finally {
      cursor.following = false;
    }
  }
}

/** Lines from many sources to one reader, as they come; a slow reader loses the oldest. */
class LineQueue {
  private queue: LogLine[] = [];
  private skipped = 0;
  private wake?: () => void;
  private closed = false;

  push(line: LogLine): void {
    if (this.closed) return;
    this.queue.push(line);
    if (this.queue.length > QUEUE_LIMIT) {
      this.skipped += this.queue.length - QUEUE_LIMIT;
      this.queue.splice(0, this.queue.length - QUEUE_LIMIT);
    }
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *lines(): AsyncGenerator<LogLine> {
    for (;;) {
      if (this.skipped > 0) {
        yield { at: new Date(), source: 'shipoff', text: `${this.skipped} lines skipped: the client reads slower than the app writes` };
        this.skipped = 0;
      }
      const line = this.queue.shift();
      if (line) {
        yield line;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
