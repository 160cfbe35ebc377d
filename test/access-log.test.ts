// The host's per-app access lines (unit): format, order, and both bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AccessLog, formatAccess } from '../host/access-log.js';
import type { AccessRecord } from '../router/index.js';

const record = (app: string, n: number, extra: Partial<AccessRecord> = {}): AccessRecord => ({
  time: '2026-11-25T08:00:00.000Z',
  app,
  method: 'GET',
  path: `/page/${n}?q="x"`,
  status: 200,
  bytes: 12,
  durationMs: 3.4,
  backend: '172.18.0.2:5000',
  requestId: `req-${n}`,
  ...extra,
});

describe('access log', () => {
  it('formats a line like a Heroku router line, quoting the path', () => {
    assert.equal(
      formatAccess(record('web', 1)),
      '2026-11-25T08:00:00.000Z router: at=info method=GET path="/page/1?q=\\"x\\"" status=200 bytes=12 service=3ms instance=172.18.0.2:5000 request_id=req-1',
    );
    assert.match(formatAccess(record('web', 2, { status: 504, backend: undefined, upstreamError: 'timeout' })), /at=error .*status=504 .*instance=none .*error=timeout$/);
  });

  it('keeps the last lines of each app, oldest first, and at most so many apps', () => {
    const log = new AccessLog(3, 2);
    for (let n = 1; n <= 5; n++) log.add(record('a', n));
    log.add(record('b', 1));
    log.add(record('c', 1)); // a third app: over the bound, not kept
    assert.deepEqual(log.last('a').map((l) => /request_id=(\S+)/.exec(l)![1]), ['req-3', 'req-4', 'req-5']);
    assert.equal(log.last('a', 1).length, 1);
    assert.equal(log.last('b').length, 1);
    assert.deepEqual(log.last('c'), []);
    log.forget('a');
    assert.deepEqual(log.last('a'), []);
  });
});
