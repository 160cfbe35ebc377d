// The host's logs view (unit, with a runtime kept in memory): the snapshot's
// merge and bounds, and a follow that picks up restarted and new instances
// without repeating a line, and leaves no stream open once aborted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogLine } from '../admin/index.js';
import type { App } from '../core/index.js';
import { AccessLog } from '../host/access-log.js';
import { appLogs, parseTimestamped } from '../host/app-logs.js';
import type { Instance, LogOptions, Runtime } from '../runtimes/index.js';

const APP = { name: 'demo' } as App;

/** Instances whose output is kept in memory; a follow ends when its instance stops, like Docker's. */
class MemoryRuntime {
  readonly instances = new Map<string, Instance>();
  readonly output = new Map<string, { at: Date; text: string }[]>();
  open = 0;
  private wakers = new Set<() => void>();

  add(id: string, processType: string, index: number): void {
    this.instances.set(id, { id, app: APP.name, release: 1, processType, index, state: 'running' });
    this.output.set(id, []);
  }

  write(id: string, text: string, at = new Date()): void {
    this.output.get(id)!.push({ at, text });
    this.poke();
  }

  setState(id: string, state: Instance['state']): void {
    this.instances.get(id)!.state = state;
    this.poke();
  }

  private poke(): void {
    for (const wake of this.wakers) wake();
  }

  async list(): Promise<Instance[]> {
    return [...this.instances.values()].map((i) => ({ ...i }));
  }

  onEvent(): () => void {
    return () => {};
  }

  async *logs(id: string, options: LogOptions): AsyncGenerator<string> {
    assert.equal(options.timestamps, true);
    const since = options.since?.getTime() ?? -Infinity;
    const all = this.output.get(id)!;
    let shown = all.filter((l) => l.at.getTime() >= since);
    if (options.tail !== undefined) shown = shown.slice(-options.tail);
    let next = all.length;
    for (const l of shown) yield `${l.at.toISOString().replace('Z', '123456Z')} ${l.text}`;
    if (!options.follow) return;
    this.open++;
    try {
      for (;;) {
        while (next < all.length) yield `${all[next]!.at.toISOString()} ${all[next++]!.text}`;
        if (options.signal?.aborted || this.instances.get(id)?.state !== 'running') return;
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            this.wakers.delete(wake);
            options.signal?.removeEventListener('abort', wake);
            resolve();
          };
          this.wakers.add(wake);
          options.signal?.addEventListener('abort', wake);
        });
      }
    } finally {
      this.open--;
    }
  }
}

function setup(): { runtime: MemoryRuntime; accessLog: AccessLog; deps: { runtime: Runtime; accessLog: AccessLog } } {
  const runtime = new MemoryRuntime();
  const accessLog = new AccessLog();
  return { runtime, accessLog, deps: { runtime: runtime as unknown as Runtime, accessLog } };
}

const access = (path: string, time: Date) => ({ time: time.toISOString(), app: APP.name, method: 'GET', path, status: 200, bytes: 2, durationMs: 1, backend: 'x:1', requestId: path });

async function collect(lines: AsyncIterable<LogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(`${l.source} ${l.text}`);
  return out;
}

/** Reads a follow in the background; `until` waits for a line. */
function reader(lines: AsyncIterable<LogLine>) {
  const seen: string[] = [];
  const done = (async () => {
    for await (const l of lines) seen.push(`${l.source} ${l.text}`);
  })();
  const until = async (text: string, timeoutMs = 4_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!seen.some((s) => s.endsWith(text))) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in:\n${seen.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { seen, done, until };
}

describe('app logs', () => {
  it('parses Docker\'s timestamps to the millisecond', () => {
    assert.deepEqual(parseTimestamped('2026-11-25T08:00:00.123456789Z hello world'), { at: new Date('2026-11-25T08:00:00.123Z'), text: 'hello world' });
    assert.deepEqual(parseTimestamped('2026-11-25T08:00:01Z '), { at: new Date('2026-11-25T08:00:01.000Z'), text: '' });
    assert.equal(parseTimestamped('no timestamp here'), undefined);
  });

  it('merges every instance and the router by time, and keeps the last N', async () => {
    const { runtime, accessLog, deps } = setup();
    runtime.add('a', 'web', 1);
    runtime.add('b', 'worker', 1);
    const t = (s: number): Date => new Date(Date.UTC(2026, 10, 25, 8, 0, s));
    runtime.write('a', 'web first', t(1));
    runtime.write('b', 'worker', t(2));
    accessLog.add(access('/x', t(3)));
    runtime.write('a', 'web last', t(4));
    runtime.setState('b', 'crashed'); // a stopped instance's last words are kept
    const signal = new AbortController().signal;
    assert.deepEqual(await collect(appLogs(deps, APP, { follow: false, lines: 100, signal })), [
      'web.1 web first',
      'worker.1 worker',
      'router at=info method=GET path="/x" status=200 bytes=2 service=1ms instance=x:1 request_id=/x',
      'web.1 web last',
    ]);
    assert.deepEqual(await collect(appLogs(deps, APP, { follow: false, lines: 2, signal })), [
      'router at=info method=GET path="/x" status=200 bytes=2 service=1ms instance=x:1 request_id=/x',
      'web.1 web last',
    ]);
    assert.deepEqual(await collect(appLogs(deps, APP, { follow: false, lines: 100, processType: 'worker', signal })), ['worker.1 worker']);
    assert.deepEqual(await collect(appLogs(deps, APP, { follow: false, lines: 100, processType: 'clock', signal })), []);
  });

  it('follows restarted and new instances without repeating a line, and closes every stream on abort', async () => {
    const { runtime, accessLog, deps } = setup();
    runtime.add('a', 'web', 1);
    const same = new Date();
    runtime.write('a', 'one', same);
    runtime.write('a', 'two', same); // same millisecond: a reread since then must skip both
    const abort = new AbortController();
    const r = reader(appLogs(deps, APP, { follow: true, lines: 10, signal: abort.signal }));
    await r.until('two');

    runtime.write('a', 'three');
    accessLog.add(access('/live', new Date()));
    await r.until('three');
    await r.until('request_id=/live');

    runtime.setState('a', 'stopped'); // its stream ends; a restart of the same instance is followed again
    await new Promise((resolve) => setTimeout(resolve, 50));
    runtime.setState('a', 'running');
    runtime.write('a', 'after restart');
    await r.until('after restart', 4_000);

    runtime.add('b', 'web', 2); // a scale up
    runtime.write('b', 'new instance');
    await r.until('new instance', 4_000);

    abort.abort();
    await r.done;
    assert.equal(runtime.open, 0, 'no log stream left open');
    const texts = r.seen.map((s) => s.replace(/^\S+ /, ''));
    assert.equal(new Set(texts).size, texts.length, `a line came twice:\n${r.seen.join('\n')}`);
    assert.deepEqual(r.seen.filter((s) => s.startsWith('web.1')), ['web.1 one', 'web.1 two', 'web.1 three', 'web.1 after restart']);
  });
});
