// A new release takes traffic only after it answers HTTP on $PORT. Any answer
// below 500 counts: the app is up, even if / is a redirect or a 404.
import http from 'node:http';

export interface HealthCheck {
  path: string;
  timeoutMs: number;
}

export const DEFAULT_HEALTH_CHECK: HealthCheck = { path: '/', timeoutMs: 60_000 };

function probe(host: string, port: number, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: 2_000, headers: { 'user-agent': 'shipoff-health-check' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

export type HealthResult = { ok: true; status: number; ms: number } | { ok: false; reason: string };

/**
 * Polls until the instance answers, it dies (isAlive says false), the timeout
 * passes, or the signal aborts.
 */
export async function waitUntilHealthy(
  address: { host: string; port: number },
  check: HealthCheck,
  isAlive: () => Promise<boolean>,
  signal: AbortSignal,
): Promise<HealthResult> {
  const started = Date.now();
  let delay = 50;
  let lastStatus: number | undefined;
  for (;;) {
    if (signal.aborted) return { ok: false, reason: 'cancelled' };
    lastStatus = await probe(address.host, address.port, check.path);
    if (lastStatus !== undefined && lastStatus < 500) return { ok: true, status: lastStatus, ms: Date.now() - started };
    if (!(await isAlive())) return { ok: false, reason: 'the process exited before it answered HTTP' };
    if (Date.now() - started > check.timeoutMs) {
      const seen = lastStatus === undefined ? 'no HTTP answer' : `only HTTP ${lastStatus}`;
      return { ok: false, reason: `${seen} on port ${address.port} at ${check.path} within ${Math.round(check.timeoutMs / 1000)} s` };
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}
