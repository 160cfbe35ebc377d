// The dashboard's model without a terminal: which apps and keys a viewer
// gets, the rows' text, the sparklines, rates and p95 from the router's
// cumulative counters, and the state column's rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppSnapshot, Snapshot } from '../admin/dashboard/feed.js';
import { DashboardModel, formatAge, formatBytes, mayDo, sparkline } from '../admin/dashboard/model.js';
import { quantile, RateSampler } from '../admin/dashboard/rates.js';
import { blessedTerm } from '../admin/dashboard/terminal-io.js';
import type { Deploy } from '../core/index.js';
import { stateOf, type StateInputs } from '../host/dashboard-feed.js';

const NOW = new Date('2025-01-01T12:00:00Z');

function app(name: string, extra: Partial<AppSnapshot> = {}): AppSnapshot {
  return {
    name,
    state: 'LIVE',
    processes: [{ type: 'web', running: 1, desired: 1 }],
    release: 3,
    lastDeploy: { id: 7, state: 'LIVE', at: new Date(NOW.getTime() - 125_000) },
    rps: 1.5,
    p95Ms: 12.4,
    memoryBytes: 42 * 1024 * 1024,
    rpsHistory: [0, 1, 2],
    wakeHistory: [0, 1, 0],
    autosleepSeconds: 900,
    ...extra,
  };
}

function snapshot(apps: AppSnapshot[]): Snapshot {
  return { at: NOW, sampleSeconds: 2, host: { engine: { ok: true }, buildsRunning: 1, buildsQueued: 2, imagesBytes: 3 * 1024 ** 3, cacheBytes: 5 * 1024 ** 2 }, apps };
}

describe('dashboard model', () => {
  it('shows only the apps the viewer may see, filtered, with a selection that moves', () => {
    const model = new DashboardModel();
    model.update(snapshot([app('beta'), app('alpha'), app('secret')]));
    model.setVisible(new Map([['alpha', 'viewer'], ['beta', 'developer']]));
    assert.deepEqual(model.rows().map((r) => r.name), ['alpha', 'beta']);
    assert.equal(model.selected()?.name, 'alpha');
    model.move(1);
    assert.equal(model.selected()?.name, 'beta');
    model.move(5);
    assert.equal(model.selected()?.name, 'beta');
    model.filter = 'alp';
    assert.deepEqual(model.rows().map((r) => r.name), ['alpha']);
    assert.equal(model.selected()?.name, 'alpha');
  });

  it('writes a row per app and a host bar', () => {
    const model = new DashboardModel();
    model.update(snapshot([app('alpha')]));
    model.setVisible(new Map([['alpha', 'host-admin']]));
    const { header, lines, selectedIndex } = model.table(120);
    assert.match(header, /^APP\s+STATE\s+PROCESSES\s+RELEASE\s+LAST DEPLOY\s+REQ\/S\s+P95\s+MEM$/);
    assert.match(lines[0]!, /^alpha\s+LIVE\s+web 1\/1\s+v3\s+2m ago LIVE\s+1\.50\s+12ms\s+42M$/);
    assert.equal(selectedIndex, 0);
    assert.equal(model.hostBar(), 'shipoff  Docker up  builds 1 running, 2 queued  images 3.0G, caches 5.0M  apps 1');
    assert.ok(model.table(30).lines[0]!.length <= 30);
  });

  it("offers only the keys the viewer's role allows", () => {
    const model = new DashboardModel();
    model.update(snapshot([app('alpha'), app('beta')]));
    model.setVisible(new Map([['alpha', 'viewer'], ['beta', 'developer']]));
    assert.equal(model.footer(), '↑↓ move  enter open  l logs  / filter  ? help  q quit');
    model.move(1);
    assert.equal(model.footer(), '↑↓ move  enter open  l logs  r restart  s scale  b rollback  / filter  ? help  q quit');
    assert.equal(mayDo('admin', 'autosleep'), true);
    assert.equal(mayDo('developer', 'autosleep'), false);
    assert.equal(mayDo('host-admin', 'autosleep'), true);
    assert.equal(mayDo(undefined, 'restart'), false);
  });

  it('draws sparklines scaled to their largest value', () => {
    assert.equal(sparkline([0, 1, 2, 4], 4), '▁▃▅█');
    assert.equal(sparkline([0, 0], 4), '  ▁▁');
    assert.equal(sparkline([1, 2, 3, 4, 5, 6], 3), '▆▇█');
    const model = new DashboardModel();
    model.update(snapshot([app('alpha')]));
    model.setVisible(new Map([['alpha', 'owner']]));
    const { label, lines } = model.sparklines(60);
    assert.equal(label, ' alpha: the last minute ');
    assert.match(lines[0]!, /^req\/s\s+▁▅█ 2\.00 max$/);
    assert.match(lines[1]!, /^wake-ups\s+▁█▁ 1 total$/);
    assert.ok(lines.every((l) => l.length <= 60));
  });

  it('formats sizes and ages', () => {
    assert.equal(formatBytes(512), '512B');
    assert.equal(formatBytes(1536), '1.5K');
    assert.equal(formatBytes(42 * 1024 ** 2), '42M');
    assert.equal(formatAge(5_000), '5s ago');
    assert.equal(formatAge(3 * 3600_000), '3h ago');
  });
});

describe('dashboard rates', () => {
  const bounds = [0.01, 0.1, 1];
  const reading = (requests: number, counts: number[], over = 0, wakeups = 0) => ({ requests, wakeups, latencyCounts: counts, latencyCount: counts.reduce((a, b) => a + b, 0) + over });

  it('turns cumulative counters into rates per sample and a recent p95', () => {
    const sampler = new RateSampler(bounds, 2);
    sampler.sample('a', reading(10, [10, 0, 0]));
    assert.deepEqual(sampler.rates('a'), { rps: 0, rpsHistory: [], wakeHistory: [] });
    sampler.sample('a', reading(30, [10, 20, 0], 0, 1));
    const r = sampler.rates('a');
    assert.equal(r.rps, 10);
    assert.deepEqual(r.wakeHistory, [1]);
    // 20 new observations, all in (0.01, 0.1]: the 95th is at 19 of 20 there.
    assert.ok(Math.abs(r.p95Ms! - (10 + 90 * 0.95)) < 1e-9, String(r.p95Ms));
    sampler.sample('a', reading(30, [10, 20, 0], 0, 1));
    assert.equal(sampler.rates('a').rps, 0);
    assert.deepEqual(sampler.rates('a').rpsHistory, [10, 0]);
  });

  it('keeps a bounded history, forgets apps, and survives a counter reset', () => {
    const sampler = new RateSampler(bounds, 1, 3);
    for (let i = 0; i <= 5; i++) sampler.sample('a', reading(i * 2, [0, 0, 0]));
    assert.deepEqual(sampler.rates('a').rpsHistory, [2, 2, 2]);
    sampler.sample('a', reading(1, [0, 0, 0]));
    assert.equal(sampler.rates('a').rps, 1);
    sampler.retain(new Set());
    assert.deepEqual(sampler.rates('a').rpsHistory, []);
  });

  it('estimates quantiles like histogram_quantile', () => {
    assert.equal(quantile(bounds, [0, 0, 0], 0, 0.95), undefined);
    assert.equal(quantile(bounds, [100, 0, 0], 0, 0.5), 0.005);
    assert.equal(quantile(bounds, [0, 0, 0], 5, 0.95), 1);
  });
});

describe('dashboard state column', () => {
  const deploy = (state: Deploy['state']): Deploy => ({ id: 1, appId: 1, state, reason: undefined, commitSha: undefined, branch: undefined, pushedBy: undefined, releaseId: undefined, createdAt: NOW, startedAt: undefined, finishedAt: undefined, updatedAt: NOW });
  const base: StateInputs = { last: deploy('LIVE'), hasLive: true, routed: true, tier: 'awake', hasWeb: true, allZero: false, crashed: false, stopped: false };

  it('says what the app is doing', () => {
    assert.equal(stateOf(base), 'LIVE');
    assert.equal(stateOf({ ...base, last: deploy('BUILDING') }), 'BUILDING');
    assert.equal(stateOf({ ...base, routed: false }), 'SLEEPING');
    assert.equal(stateOf({ ...base, routed: false, tier: 'parked', crashed: true }), 'SLEEPING');
    assert.equal(stateOf({ ...base, routed: false, tier: 'waking' }), 'WAKING');
    assert.equal(stateOf({ ...base, crashed: true }), 'FAILED');
    assert.equal(stateOf({ ...base, hasLive: false, last: deploy('FAILED') }), 'FAILED');
    assert.equal(stateOf({ ...base, hasLive: false, last: undefined }), 'STOPPED');
    assert.equal(stateOf({ ...base, stopped: true }), 'STOPPED');
    assert.equal(stateOf({ ...base, allZero: true }), 'STOPPED');
    // A worker-only app has no web to sleep.
    assert.equal(stateOf({ ...base, hasWeb: false, routed: false }), 'LIVE');
  });

  it('picks a terminal type blessed can read', () => {
    assert.equal(blessedTerm('xterm-256color'), 'xterm-256color');
    assert.equal(blessedTerm('screen'), 'screen');
    assert.equal(blessedTerm('screen-256color'), 'xterm-256color');
    assert.equal(blessedTerm(''), 'xterm-256color');
  });
});
