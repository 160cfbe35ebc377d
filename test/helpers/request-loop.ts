// A continuous request loop through the router, for zero-downtime checks: not
// one request may fail while releases, restarts and scaling happen.
import http from 'node:http';

export interface LoopResult {
  ok: number;
  failures: string[];
  /** Every answer with when its request was sent and when it ended (ms, performance.now()). */
  answers: Array<{ body: string; sentAt: number; endedAt: number }>;
}

/**
 * The versions answered, in the order they first appeared, and whether any
 * request sent after a newer version had answered got an older one. Requests
 * in flight at a switch may end after the first answers of the new release
 * (they are served by the old one, as they should), so the order of answers
 * alone cannot tell; the order of sending can.
 */
export function versionsSeen(result: LoopResult): { order: string[]; wentBack: string[] } {
  const order: string[] = [];
  const firstAnswer = new Map<string, number>();
  for (const a of [...result.answers].sort((x, y) => x.endedAt - y.endedAt)) {
    if (!firstAnswer.has(a.body)) {
      firstAnswer.set(a.body, a.endedAt);
      order.push(a.body);
    }
  }
  const wentBack = result.answers
    .filter((a) => order.slice(order.indexOf(a.body) + 1).some((newer) => a.sentAt > firstAnswer.get(newer)!))
    .map((a) => `${a.body} sent ${Math.round(a.sentAt)} ms, after a newer version had answered`);
  return { order, wentBack };
}

/** Requests APP's PATH over keep-alive connections until stop() is called. */
export function requestLoop(port: number, app: string, options: { concurrency?: number; path?: string } = {}): { stop: () => Promise<LoopResult>; result: LoopResult } {
  const concurrency = options.concurrency ?? 4;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoopResult = { ok: 0, failures: [], answers: [] };
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const sentAt = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: options.path ?? '/', headers: { host: `${app}.localhost` }, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) {
            result.ok++;
            const v = body.trim();
            result.answers.push({ body: v, sentAt, endedAt: performance.now() });
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
