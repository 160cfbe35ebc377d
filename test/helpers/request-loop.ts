// A continuous request loop through the router, for zero-downtime checks: not
// one request may fail while releases, restarts and scaling happen.
import http from 'node:http';

export interface LoopResult {
  ok: number;
  failures: string[];
  /** The bodies answered, in order, with runs collapsed: ["v1", "v2"]. */
  sequence: string[];
  /** How many times each body was answered. */
  counts: Map<string, number>;
}

/** Requests APP's PATH over keep-alive connections until stop() is called. */
export function requestLoop(port: number, app: string, options: { concurrency?: number; path?: string } = {}): { stop: () => Promise<LoopResult>; result: LoopResult } {
  const concurrency = options.concurrency ?? 4;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoopResult = { ok: 0, failures: [], sequence: [], counts: new Map() };
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: options.path ?? '/', headers: { host: `${app}.localhost` }, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) {
            result.ok++;
            const v = body.trim();
            result.counts.set(v, (result.counts.get(v) ?? 0) + 1);
            if (result.sequence.at(-1) !== v) result.sequence.push(v);
          } else {
            result.failures.push(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
          }
          resolve();
        });
      });
      req.on('error', (err) => {
        result.failures.push(err.message);
        resolve();
      });
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}
