// Wake time of a sleeping app: from the first request to its first response
// byte, through the router of a running host, for a Node hello-world app.
//   parked  - the web container was stopped (kept): a start plus node's boot
//   frozen  - the warm tier: the container was paused, an unpause
// Reference, in the same sitting: starting a stopped container of the same
// image through the Docker API and polling its port until it answers (the
// floor of any wake from a stopped container), so figures read as ratios.
//
// Run: node dist/bench/wake-time.js [rounds]   (default 10; needs scripts/setup)
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import Docker from 'dockerode';
import { startPushingHost } from '../test/helpers/pushing-host.js';
import { median } from './stats.js';

const rounds = Number(process.argv[2] ?? 10);
const APP = `wakebench-${process.pid}`;
const SERVER = "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n";

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const p95 = (xs: number[]): number => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!;

function firstByte(port: number, hostHeader: string, host = '127.0.0.1'): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', headers: { host: hostHeader }, agent: false }, (res) => {
      res.once('data', () => resolve(performance.now() - started));
      res.resume();
    });
    req.on('error', reject);
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

const host = await startPushingHost('bench-wake');
try {
  const pushed = await host.pushApp(APP, {
    'package.json': JSON.stringify({ name: 'w', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }),
    'server.js': SERVER,
  });
  if (pushed.code !== 0) throw new Error(pushed.output);
  // The web process is `npm start` → node; a Procfile-free app like most.
  const set = await host.shipoff(['ps:autosleep', APP, '2s']);
  if (set.code !== 0) throw new Error(set.stderr);
  const results: Record<string, number[]> = { reference: [], parked: [], frozen: [] };
  const docker = new Docker();
  const image = execFileSync('docker', ['ps', '--filter', `label=shipoff.app=${APP}`, '--format', '{{.Image}}'], { encoding: 'utf8' }).trim().split('\n')[0]!;

  for (let round = 0; round < rounds; round++) {
    // reference: the same image, started through the API, polled until it answers
    const c = await docker.createContainer({ Image: image, Cmd: ['node', '-e', SERVER], Env: ['PORT=5000'], Labels: { 'com.shipoff.managed': 'true', 'shipoff.bench': 'wake' } });
    try {
      const t0 = performance.now();
      await c.start();
      const ip = Object.values((await c.inspect()).NetworkSettings.Networks)[0]!.IPAddress;
      for (;;) {
        try {
          await firstByte(5000, 'x', ip);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      results.reference!.push(performance.now() - t0);
    } finally {
      await c.remove({ force: true });
    }

    // Awake, with the idle clock restarted: then the freezer comes after 1 s.
    await firstByte(host.httpPort, `${APP}.localhost`);
    const frozenBefore = count(host.output(), /idle, frozen/);
    await until('frozen', () => count(host.output(), /idle, frozen/) > frozenBefore);
    results.frozen!.push(await firstByte(host.httpPort, `${APP}.localhost`));
    // Then idle for the whole 2 s: frozen again, then parked.
    const parkedBefore = count(host.output(), /idle, asleep/);
    await until('parked', () => count(host.output(), /idle, asleep/) > parkedBefore);
    results.parked!.push(await firstByte(host.httpPort, `${APP}.localhost`));
    process.stderr.write(`round ${round + 1}/${rounds}: ${Object.entries(results).map(([k, xs]) => `${k} ${Math.round(xs.at(-1)!)} ms`).join(', ')}\n`);
  }

  const ref = median(results.reference!);
  console.log(`wake-time, ${rounds} rounds, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})\n`);
  console.log('| case | median | p95 | min..max | × reference |');
  console.log('|---|---|---|---|---|');
  for (const [name, xs] of Object.entries(results)) {
    console.log(`| ${name} | ${Math.round(median(xs))} ms | ${Math.round(p95(xs))} ms | ${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))} ms | ${(median(xs) / ref).toFixed(2)} |`);
  }
} finally {
  await host.close();
}
