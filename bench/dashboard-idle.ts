// What an open terminal dashboard costs the host while nobody touches it:
// the CPU time (utime + stime from /proc/PID/stat) the host used over a 30 s
// idle window, with one pushed Node hello-world app and no requests.
//   reference      - the same host, no dashboard open (in the same sitting,
//                    alternating with the cases below)
//   dashboard      - one dashboard open over `ssh -t` (stock OpenSSH client in
//                    a tmux pseudo-terminal), showing the apps table
//   dashboard+app  - the same with the app's detail open (enter): its
//                    instances' CPU and memory, releases and logs followed
// Two figures per case: the host's own process, and its process tree (the
// embedded PostgreSQL the feed's queries land in, and any helper processes).
//
// Run: node dist/bench/dashboard-idle.js [rounds] [seconds]   (default 3, 30; needs scripts/setup, tmux)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPushingHost } from '../test/helpers/pushing-host.js';
import { startTmux, type Tmux } from '../test/helpers/tmux.js';
import { median } from './stats.js';

const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 30);
const APP = `dashidle-${process.pid}`;
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** utime, stime, cutime, cstime and the parent of PID, in clock ticks; undefined when it is gone. */
function statOf(pid: number): { own: number; children: number; ppid: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
    return { ppid: f[1]!, own: f[11]! + f[12]!, children: f[13]! + f[14]! };
  } catch {
    return undefined;
  }
}

/** CPU ticks of PID itself, and of PID with every live descendant (and the children each has reaped). */
function cpuTicks(pid: number): { host: number; tree: Map<number, number> } {
  const parents = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = statOf(Number(entry));
    if (s) parents.set(s.ppid, [...(parents.get(s.ppid) ?? []), Number(entry)]);
  }
  const tree = new Map<number, number>();
  const walk = (p: number): void => {
    const s = statOf(p);
    if (!s) return;
    tree.set(p, s.own + s.children);
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return { host: statOf(pid)?.own ?? NaN, tree };
}

/** CPU seconds used between two readings (a process new in the second counts whole). */
function used(before: ReturnType<typeof cpuTicks>, after: ReturnType<typeof cpuTicks>): { host: number; tree: number } {
  let tree = 0;
  for (const [pid, ticks] of after.tree) tree += ticks - (before.tree.get(pid) ?? 0);
  return { host: (after.host - before.host) / TICK, tree: tree / TICK };
}

/** The host: the `shipoff up` process this bench started. */
function hostPid(): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (statOf(Number(entry))?.ppid !== process.pid) continue;
    const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    if (cmdline.some((a) => a.endsWith('bin/shipoff')) && cmdline.includes('up')) return Number(entry);
  }
  throw new Error('the host process was not found');
}

const host = await startPushingHost('bench-dashidle');
const terminals: Tmux[] = [];
try {
  const pushed = await host.pushApp(APP, {
    'package.json': JSON.stringify({ name: 'd', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }),
    'server.js': "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n",
  });
  if (pushed.code !== 0) throw new Error(pushed.output);
  // Awake for the whole sitting: no sleep or wake inside a window.
  const off = await host.shipoff(['ps:autosleep', APP, 'off']);
  if (off.code !== 0) throw new Error(off.stderr);
  const pid = hostPid();
  const keyFile = path.join(host.scratch, 'id_admin');
  const ssh = `ssh -t -p ${host.sshPort} -i ${keyFile} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR shipoff@127.0.0.1 dashboard`;

  const results: Record<string, Array<{ host: number; tree: number }>> = { reference: [], dashboard: [], 'dashboard+app': [] };
  const window = async (): Promise<{ host: number; tree: number }> => {
    const before = cpuTicks(pid);
    await sleep(seconds * 1000);
    return used(before, cpuTicks(pid));
  };
  const withDashboard = async (openApp: boolean): Promise<{ host: number; tree: number }> => {
    const tmux = startTmux(`${ssh}; echo "dashboard exited with status $?"; sleep 600`);
    terminals.push(tmux);
    try {
      await tmux.waitFor(new RegExp(`${APP}\\s+LIVE`), 30_000);
      if (openApp) {
        tmux.send('Enter');
        await tmux.waitFor(/web\.1\s+v1\s+running\s+cpu/, 30_000);
      }
      // Past the first look and the first disk measurement.
      await sleep(3_000);
      return await window();
    } finally {
      tmux.send('q');
      await tmux.waitFor(/dashboard exited with status 0/, 15_000).catch(() => {});
      tmux.kill();
      terminals.splice(terminals.indexOf(tmux), 1);
    }
  };

  await sleep(5_000); // the push's aftermath (old build container, health checks) settles
  for (let round = 0; round < rounds; round++) {
    results.reference!.push(await window());
    results.dashboard!.push(await withDashboard(false));
    results['dashboard+app']!.push(await withDashboard(true));
    const last = Object.entries(results).map(([k, xs]) => `${k} ${xs.at(-1)!.host.toFixed(2)} s (tree ${xs.at(-1)!.tree.toFixed(2)} s)`).join(', ');
    process.stderr.write(`round ${round + 1}/${rounds}: ${last}\n`);
  }

  const ref = median(results.reference!.map((r) => r.host));
  const refTree = median(results.reference!.map((r) => r.tree));
  console.log(`dashboard-idle, ${rounds} rounds of ${seconds} s, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), load average ${os.loadavg()[0]!.toFixed(1)}\n`);
  console.log('| case | host CPU | min..max | % of a core | × reference | host+children CPU | × reference |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, xs] of Object.entries(results)) {
    const h = xs.map((x) => x.host);
    const t = xs.map((x) => x.tree);
    console.log(
      `| ${name} | ${median(h).toFixed(2)} s | ${Math.min(...h).toFixed(2)}..${Math.max(...h).toFixed(2)} s | ${((median(h) / seconds) * 100).toFixed(2)} % | ${(median(h) / ref).toFixed(1)} | ${median(t).toFixed(2)} s | ${(median(t) / refTree).toFixed(1)} |`,
    );
  }
} finally {
  for (const t of terminals) t.kill();
  await host.close();
}
