// A continuous request loop through the router while new releases go live:
// not one request may fail, and once the new release answers, the old one
// never answers again. Real pushes, real containers, real HTTP.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';
import { requestLoop, versionsSeen } from './helpers/request-loop.js';

const APP = `zdt-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** A tiny app whose every answer names its version; slow requests (/slow) take 6 s. */
function files(version: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'zdt', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
    'server.js': `require('http').createServer((req, res) => {
  const answer = () => res.end('${version}\\n');
  if (req.url === '/slow') setTimeout(answer, 6000); else answer();
}).listen(process.env.PORT);
`,
  };
}

describe('zero-downtime deploys', { timeout: 300_000 }, () => {
  let host: PushingHost;

  before(async () => {
    host = await startPushingHost('zdt');
    const r = await host.pushApp(APP, files('v1'));
    assert.equal(r.code, 0, r.output);
    await host.shipoff(['ps:autosleep', APP, 'off']);
  });

  after(async () => {
    await host?.close();
  });

  it('a continuous request loop during two deploys sees no failed request, and never an old release after the new one', async () => {
    const loop = requestLoop(host.httpPort, APP);
    await new Promise((r) => setTimeout(r, 300));
    for (const version of ['v2', 'v3']) {
      const r = await host.pushApp(APP, files(version), version);
      assert.equal(r.code, 0, r.output);
    }
    await new Promise((r) => setTimeout(r, 500));
    const result = await loop.stop();
    console.log(`${result.ok} requests during the deploys, ${result.failures.length} failed`);
    assert.deepEqual(result.failures, []);
    const seen = versionsSeen(result);
    assert.deepEqual(seen.order, ['v1', 'v2', 'v3']);
    assert.deepEqual(seen.wentBack, [], 'once a release answered, no request sent afterwards reached an older one');
    assert.ok(result.ok > 50, `only ${result.ok} requests were made`);
  });

  it('a request in flight to the old release when the new one goes live is answered by the old one', async () => {
    const slow = new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: host.httpPort, path: '/slow', headers: { host: `${APP}.localhost` }, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
    let liveAt = 0;
    const pushed = host.pushApp(APP, files('v4'), 'v4').then((r) => {
      liveAt = Date.now();
      return r;
    });
    const answer = await slow;
    const answeredAt = Date.now();
    const r = await pushed;
    assert.equal(r.code, 0, r.output);
    assert.ok(liveAt > 0 && liveAt < answeredAt, 'v4 went live while the slow request was still in flight');
    assert.deepEqual(answer, { status: 200, body: 'v3\n' }, 'the old release finished it');
  });
});
