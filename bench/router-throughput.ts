// Plain-HTTP throughput and latency of the router against nginx, the
// reference reverse proxy, on the same machine and in the same sitting:
//   direct - wrk straight at the upstream (the ceiling)
//   router - wrk through Shipoff's router (createRouter, one app in the table)
//   nginx  - wrk through nginx: 2 workers, upstream keep-alive, the same
//            X-Forwarded-*/X-Request-Id headers set as the router sets
// The upstream is a one-line Node server in its own process; the router runs
// in its own process too. Each case runs `wrk -t1 -c64 -d10s --latency`, in
// ROUNDS rounds (direct, router, nginx in turn); the table shows medians,
// and req/s per core is requests over the CPU time the proxy itself used.
// Then the router's memory with 1,000 apps in its route table.
//
// Run: node dist/bench/router-throughput.js [rounds] [seconds]   (default 3 10)
// Needs wrk and nginx (apt-get install -y wrk nginx); installs nothing itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRouter, RouteTable, type RouterDeps } from '../router/index.js';
import { median } from './stats.js';

const UPSTREAM_JS = `require('http').createServer((q, s) => s.end('hello\\n')).listen(0, '127.0.0.1', function () { console.log(this.address().port) })`;
// 1,000 upstreams on 1,000 ports in one process, for the memory case.
const MANY_UPSTREAMS_JS = `const http = require('http'); let n = 0; const ports = [];
for (let i = 0; i < 1000; i++) http.createServer((q, s) => s.end('hi\\n')).listen(0, '127.0.0.1', function () { ports.push(this.address().port); if (++n === 1000) console.log(ports.join(',')) })`;

/** A Store with what the router needs of one: apps.find (for 404 vs 503) and ping (for /healthz). */
const stubStore: RouterDeps['store'] = {
  backend: 'embedded',
  ping: async () => {},
  apps: { find: async () => undefined },
};

// ---- the benchmark -------------------------------------------------------------
function have(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd} || ls /usr/sbin/${cmd} 2>/dev/null`], { encoding: 'utf8' });
  return r.stdout.trim().split('\n')[0] || undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a process and waits for its first stdout line. */
function startWithLine(cmd: string, args: string[]): Promise<{ child: ChildProcess; line: string; lines: AsyncIterator<string> }> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const l = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(l);
      else queue.push(l);
    }
  });
  const next = (): Promise<string> => new Promise((resolve, reject) => {
    const l = queue.shift();
    if (l !== undefined) return resolve(l);
    waiters.push(resolve);
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)));
  });
  const lines: AsyncIterator<string> = { next: async () => ({ value: await next(), done: false }) };
  return next().then((line) => ({ child, line, lines }));
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return 0;
  }
}

/** The pid and its direct children (nginx's master and workers). */
function withChildren(pid: number): number[] {
  const pids = [pid];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const toMs = (value: string, unit: string): number => Number(value) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit]!;

interface Run {
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
  errors: number;
}

function wrk(port: number, host: string, seconds: number, cpuPids: number[]): Run {
  const before = cpuPids.reduce((s, p) => s + cpuSeconds(p), 0);
  const r = spawnSync('wrk', ['-t1', '-c64', `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const cpu = cpuPids.reduce((s, p) => s + cpuSeconds(p), 0) - before;
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors:.*/.exec(out)?.[0];
  if (!p50 || !p99 || Number.isNaN(rps)) throw new Error(`could not read wrk's output:\n${out}\n${r.stderr}`);
  if (sockErr) console.error(`  (${host}: ${sockErr})`);
  return { rps, p50: toMs(p50[1]!, p50[2]!), p99: toMs(p99[1]!, p99[2]!), cpu, errors: non2xx };
}

function nginxConfig(dir: string, listen: number, upstream: number): string {
  return `worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server 127.0.0.1:${upstream};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Request-Id $request_id;
    }
  }
}
`;
}

function get(port: number, host: string, pathname = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function waitFor(port: number, host: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await get(port, host)).status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answers on ${port} for ${host}`);
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const seconds = Number(process.argv[3] ?? 10);
  const missing = ['wrk', 'nginx'].filter((c) => !have(c));
  if (missing.length > 0) {
    console.error(` !     ${missing.join(' and ')} not found; install with: apt-get install -y wrk nginx`);
    process.exit(69);
  }
  const nginxBin = have('nginx')!;
  const self = fileURLToPath(import.meta.url);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipoff-bench-router-'));
  fs.chmodSync(tmp, 0o755);
  const children: ChildProcess[] = [];
  const stopAll = (): void => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('exit', stopAll);

  try {
    const upstream = await startWithLine(process.execPath, ['-e', UPSTREAM_JS]);
    children.push(upstream.child);
    const upPort = Number(upstream.line);

    const router = await startWithLine(process.execPath, [self, '--router-child']);
    children.push(router.child);
    const routerPort = Number(router.line);
    router.child.stdin!.write(`routes ${upPort}\n`);
    await router.lines.next();

    const nginxPort = await freePort();
    fs.writeFileSync(path.join(tmp, 'nginx.conf'), nginxConfig(tmp, nginxPort, upPort));
    const nginx = spawn(nginxBin, ['-p', tmp, '-c', path.join(tmp, 'nginx.conf')], { stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(nginx);

    await waitFor(upPort, 'x');
    await waitFor(routerPort, 'a0.localhost');
    await waitFor(nginxPort, 'a0.localhost');
    const nginxPids = withChildren(nginx.pid!);

    const cases = {
      direct: { port: upPort, pids: [upstream.child.pid!] },
      router: { port: routerPort, pids: [router.child.pid!] },
      nginx: { port: nginxPort, pids: nginxPids },
    };
    const results: Record<string, Run[]> = { direct: [], router: [], nginx: [] };
    // A short warm-up: JIT for the router, connection pools for both proxies.
    for (const c of Object.values(cases)) wrk(c.port, 'a0.localhost', 2, c.pids);
    for (let round = 1; round <= rounds; round++) {
      for (const [name, c] of Object.entries(cases)) {
        const run = wrk(c.port, 'a0.localhost', seconds, c.pids);
        results[name]!.push(run);
        console.error(`round ${round} ${name.padEnd(6)} ${run.rps.toFixed(0).padStart(7)} req/s  p50 ${run.p50.toFixed(2)} ms  p99 ${run.p99.toFixed(2)} ms  cpu ${run.cpu.toFixed(1)} s${run.errors ? `  non-2xx ${run.errors}` : ''}`);
      }
    }

    const ref = median(results.nginx!.map((r) => r.rps));
    const refP99 = median(results.nginx!.map((r) => r.p99));
    const cpus = os.cpus();
    console.log(`\nSitting of ${new Date().toISOString().slice(0, 10)}, ${rounds} rounds of wrk -t1 -c64 -d${seconds}s, ${cpus.length} cores (${cpus[0]?.model.trim() ?? '?'}), load average ${os.loadavg()[0]!.toFixed(2)}:\n`);
    console.log('| case | req/s | p50 | p99 | req/s × nginx | p99 × nginx | req/s per core |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [name, runs] of Object.entries(results)) {
      const rps = median(runs.map((r) => r.rps));
      const p50 = median(runs.map((r) => r.p50));
      const p99 = median(runs.map((r) => r.p99));
      const perCore = median(runs.map((r) => (r.cpu > 0 ? (r.rps * seconds) / r.cpu : NaN)));
      console.log(`| ${name} | ${rps.toFixed(0)} | ${p50.toFixed(2)} ms | ${p99.toFixed(2)} ms | ${(rps / ref).toFixed(2)} | ${(p99 / refP99).toFixed(2)} | ${perCore.toFixed(0)} |`);
    }

    // ---- memory with 1,000 apps ----
    const many = await startWithLine(process.execPath, ['-e', MANY_UPSTREAMS_JS]);
    children.push(many.child);
    const mem = await startWithLine(process.execPath, [self, '--router-child']);
    children.push(mem.child);
    const memPort = Number(mem.line);
    await get(memPort, 'localhost', '/healthz');
    const empty = rssOf(mem.child.pid!);
    mem.child.stdin!.write(`routes ${many.line}\n`);
    await mem.lines.next();
    const routed = rssOf(mem.child.pid!);
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => get(memPort, `a${i + j}.localhost`)));
    }
    const served = rssOf(mem.child.pid!);
    const metricsBytes = (await get(memPort, 'localhost', '/metrics')).body.length;
    await new Promise((r) => setTimeout(r, 5_000)); // the idle upstream connections close after 4 s
    const idle = rssOf(mem.child.pid!);
    const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
    console.log(`\nRouter RSS: ${mib(empty)} with an empty route table; ${mib(routed)} with 1,000 apps routed; ` +
      `${mib(served)} after one request to each (1,000 pools, each with an idle keep-alive connection); ` +
      `${mib(idle)} once those connections closed (5 s idle); /metrics is then ${(metricsBytes / 1024).toFixed(0)} KiB.`);
  } finally {
    stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- child mode: the router in its own process --------------------------------
async function routerChild(): Promise<void> {
  const routes = new RouteTable();
  const router = createRouter({ store: stubStore, settings: { httpPort: 0, domain: 'localhost' }, routes });
  const { port } = await router.listen('127.0.0.1');
  // Commands on stdin, one a line: "route APP PORT" adds a route, then "ok" is printed.
  let buffer = '';
  process.stdin.on('data', (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const [cmd, ...args] = line.trim().split(' ');
      if (cmd === 'routes') {
        // routes PORT,PORT,…: app a0 → first port, a1 → second, …
        args[0]!.split(',').forEach((p, i) => routes.set(`a${i}`, [{ host: '127.0.0.1', port: Number(p) }]));
      }
      process.stdout.write('ok\n');
    }
  });
  process.stdin.on('end', () => void router.close(100).then(() => process.exit(0)));
  process.stdout.write(`${port}\n`);
}


if (process.argv[2] === '--router-child') await routerChild();
else await main();
