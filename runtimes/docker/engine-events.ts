// Watches the engine's event stream for managed containers and tells crashes
// (a container exiting on its own) and Docker's restarts of them apart from
// stops that someone asked for.
//
// A stop asked for shows up as `kill` (SIGTERM, then SIGKILL) before `die`;
// Docker never restarts those. A `die` with no such request is a crash; under
// the `on-failure` policy Docker restarts it when the exit code is not 0, and
// the `start` that follows is the restart.
import type Dockerode from 'dockerode';
import type { Instance, RuntimeEvent } from '../runtime.js';
import { instanceFromInspect, instanceOf } from './labels.js';

interface EngineEvent {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

export interface EngineEventsOptions {
  docker: Dockerode;
  /** Label filters: only managed containers (of this host). */
  labels: string[];
  network: string;
  /** Did this runtime ask for the container to stop (or be removed)? */
  stopRequested: (id: string) => boolean;
  reconnectMs?: number;
}

type Listener = (event: RuntimeEvent) => void;

const STOP_SIGNALS = new Set(['9', '15', 'SIGKILL', 'SIGTERM']);

export class EngineEvents {
  private readonly listeners = new Set<Listener>();
  private readonly killed = new Set<string>();
  private readonly crashed = new Set<string>();
  /** Events seen lately, so a reconnect that replays the last second does not report twice. */
  private readonly seen = new Map<string, number>();
  private abort?: AbortController;
  private watching?: Promise<void>;
  private fromNano = 0;
  // Listeners hear events in the engine's order, even when one needs an inspect.
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: EngineEventsOptions) {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (!this.watching) this.watching = this.watch();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.abort?.abort();
    await this.watching;
    await this.queue;
    this.watching = undefined;
  }

  private async watch(): Promise<void> {
    const abort = (this.abort = new AbortController());
    // Replay from the start of this second, then drop what came before subscribing:
    // `since` counts whole seconds, and the stream may open after the first event.
    this.fromNano = Date.now() * 1e6;
    while (!abort.signal.aborted) {
      try {
        const stream = await this.options.docker.getEvents({
          since: Math.floor(this.fromNano / 1e9),
          filters: {
            type: ['container'],
            label: this.options.labels,
            event: ['kill', 'die', 'start', 'destroy'],
          },
          abortSignal: abort.signal,
        });
        await this.read(stream);
      } catch {
        // The engine went away or restarted; try again below unless closing.
      }
      if (!abort.signal.aborted) await sleep(this.options.reconnectMs ?? 1_000, abort.signal);
    }
  }

  private async read(stream: NodeJS.ReadableStream): Promise<void> {
    let text = '';
    for await (const chunk of stream) {
      text += chunk.toString();
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.handle(JSON.parse(line) as EngineEvent);
    }
  }

  private handle(event: EngineEvent): void {
    const id = event.Actor?.ID ?? event.id;
    const nano = event.timeNano ?? 0;
    if (!id || event.Type !== 'container' || nano < this.fromNano) return;
    const key = `${nano}:${id}:${event.Action}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, nano);
    for (const [k, at] of this.seen) if (at < nano - 5e9) this.seen.delete(k);
    this.fromNano = Math.max(this.fromNano, nano - 1e9);

    const attributes = event.Actor?.Attributes ?? {};
    switch (event.Action) {
      case 'kill':
        if (STOP_SIGNALS.has(attributes.signal ?? '')) this.killed.add(id);
        return;
      case 'die': {
        const asked = this.killed.delete(id) || this.options.stopRequested(id);
        if (asked) return;
        const exitCode = Number(attributes.exitCode ?? -1);
        const restarting = exitCode !== 0;
        if (restarting) this.crashed.add(id);
        const instance = instanceOf({ id, labels: attributes, state: 'crashed' });
        this.emit(async () => ({ type: 'crash', instance, exitCode, restarting }));
        return;
      }
      case 'start':
        this.killed.delete(id);
        if (this.crashed.delete(id)) this.emit(async () => ({ type: 'restart', instance: await this.current(id, attributes) }));
        return;
      case 'destroy':
        this.killed.delete(id);
        this.crashed.delete(id);
        return;
    }
  }

  /** A restarted container may have a new IP: ask the engine, else go by the labels. */
  private async current(id: string, labels: Record<string, string>): Promise<Instance> {
    try {
      return instanceFromInspect(await this.options.docker.getContainer(id).inspect(), this.options.network);
    } catch {
      return instanceOf({ id, labels, state: 'running' });
    }
  }

  private emit(make: () => Promise<RuntimeEvent>): void {
    this.queue = this.queue.then(async () => {
      const event = await make();
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // A listener's failure is its own; the others still hear the event.
        }
      }
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
