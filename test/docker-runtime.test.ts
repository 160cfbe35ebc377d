// The Docker runtime against the real engine and the real stack image: start,
// HTTP on the instance's network address, adoption by a second runtime, logs,
// pause/resume, crash and restart events, stop, and never touching containers
// without com.shipoff.managed=true.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Dockerode from 'dockerode';
import { stackImageRef } from '../buildpacks/stack-image.js';
import { isShipoffError } from '../core/errors.js';
import { DockerRuntime, type Instance, type InstanceSpec, type RuntimeEvent } from '../runtimes/index.js';
import { demuxLines } from '../runtimes/docker/log-lines.js';
import { ensureNetwork } from '../runtimes/docker/network.js';

const run = randomBytes(3).toString('hex');
const app = `rt-test-${run}`;
const network = `shipoff-test-${run}`;
const image = stackImageRef();
const docker = new Dockerode();
const bareImage = `shipoff-test-bare:${run}`;

/** An image with no labels at all (the stack image carries com.shipoff.managed): an empty tar, imported. */
async function importBareImage(): Promise<void> {
  const progress = await docker.importImage(Readable.from([Buffer.alloc(1024)]), { repo: 'shipoff-test-bare', tag: run });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(progress, (err: Error | null) => (err ? reject(err) : resolve())));
}

// Logs each request, answers with an env var, and exits on SIGTERM (via the init).
const WEB = "require('http').createServer((q,s)=>{console.log('req '+q.url);s.end('hi '+process.env.GREETING)}).listen(process.env.PORT,()=>console.log('listening on '+process.env.PORT))";

function webSpec(release: number): InstanceSpec {
  return { app, release, processType: 'web', index: 1, image, command: ['node', '-e', WEB], env: { GREETING: 'there' }, port: 5000, memoryBytes: 128 * 1024 * 1024, cpus: 0.5 };
}

function get(address: { host: string; port: number }, path = '/', timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address.host, port: address.port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

async function consume(lines: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const line of lines) all.push(line);
  return all;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}

describe('demuxLines', () => {
  const frame = (stream: number, text: string): Buffer => {
    const body = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(body.length, 4);
    return Buffer.concat([header, body]);
  };

  it('splits frames cut anywhere into lines, keeping stdout and stderr apart', async () => {
    const bytes = Buffer.concat([frame(1, 'one\ntw'), frame(2, 'err ü\r\n'), frame(1, 'o\nlast'), frame(2, 'tail')]);
    for (const size of [1, 3, 7, bytes.length]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      assert.deepEqual(await consume(demuxLines(Readable.from(chunks))), ['one', 'err ü', 'two', 'last', 'tail'], `chunks of ${size}`);
    }
  });
});

describe('DockerRuntime', () => {
  const runtime = new DockerRuntime({ docker, network });
  const events: RuntimeEvent[] = [];
  let web: Instance;
  // Not ours: one running from the stack image with the inherited managed label
  // overridden, and one with no labels of its own at all; both claim the app.
  let stranger: Dockerode.Container;
  let bare: Dockerode.Container;

  before(async () => {
    runtime.onEvent((e) => events.push(e));
    const looksLikeOurs = { 'shipoff.app': app, 'shipoff.release': '1', 'shipoff.process': 'web', 'shipoff.index': '9' };
    stranger = await docker.createContainer({ Image: image, Cmd: ['sleep', '60'], Labels: { ...looksLikeOurs, 'com.shipoff.managed': 'false' }, HostConfig: { Init: true } });
    await stranger.start();
    await importBareImage();
    bare = await docker.createContainer({ Image: bareImage, Cmd: ['/nothing'], Labels: looksLikeOurs });
  });

  after(async () => {
    await runtime.close();
    // Whatever a failed test left behind: by the app label, managed or not.
    const left = await docker.listContainers({ all: true, filters: { label: [`shipoff.app=${app}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
    const images = await docker.listImages({ filters: { label: [`shipoff.app=${app}`] } });
    for (const i of images) await docker.getImage(i.Id).remove({ force: true }).catch(() => {});
    await docker.getImage(bareImage).remove({ force: true }).catch(() => {});
    for (const n of await docker.listNetworks({ filters: { name: [network] } })) await docker.getNetwork(n.Id).remove().catch(() => {});
  });

  it('pings the engine, and says why when there is none', async () => {
    assert.deepEqual(await runtime.ping(), { ok: true });
    const nowhere = new DockerRuntime({ docker: new Dockerode({ socketPath: '/nonexistent/docker.sock' }) });
    const answer = await nowhere.ping();
    assert.equal(answer.ok, false);
    assert.match(!answer.ok ? answer.reason : "", /Docker at \/nonexistent\/docker\.sock.*ENOENT/);
    await nowhere.close();
  });

  it('makes one network even when several creators race', async () => {
    const ids = await Promise.all([ensureNetwork(docker, network), ensureNetwork(docker, network), ensureNetwork(docker, network)]);
    assert.equal(new Set(ids).size, 1);
    const found = (await docker.listNetworks({ filters: { name: [network] } })).filter((n) => n.Name === network);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.Labels?.['com.shipoff.managed'], 'true');
  });

  it('starts an instance that answers HTTP at its address with its env', async () => {
    web = await runtime.start(webSpec(1));
    assert.equal(web.state, 'running');
    assert.ok(web.address, 'a web instance has an address');
    assert.equal(web.address.port, 5000);
    assert.equal(await eventually('HTTP answer', () => get(web.address!)), 'hi there');

    const info = await docker.getContainer(web.id).inspect();
    assert.match(info.Name, new RegExp(`^/shipoff-${app}-web-1-v1-[0-9a-f]{6}$`));
    const { 'com.shipoff.stack': _fromTheImage, ...labels } = info.Config.Labels;
    assert.deepEqual(labels, { 'com.shipoff.managed': 'true', 'shipoff.app': app, 'shipoff.release': '1', 'shipoff.process': 'web', 'shipoff.index': '1', 'shipoff.port': '5000' });
    assert.ok(info.Config.Env.includes('PORT=5000') && info.Config.Env.includes('GREETING=there'));
    assert.deepEqual(info.Config.Cmd, ['node', '-e', WEB]);
    assert.equal(info.Config.WorkingDir, '/app');
    assert.equal(info.HostConfig.Memory, 128 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.RestartPolicy?.Name, 'on-failure');
    assert.deepEqual(info.HostConfig.PortBindings ?? {}, {}, 'no port is published');
    assert.deepEqual(Object.keys(info.NetworkSettings.Networks), [network]);
  });

  it('never pulls a missing image; a command that cannot run shows as a crash with the reason in its logs', async () => {
    await assert.rejects(runtime.start({ ...webSpec(1), image: `shipoff/${app}:v404` }), (err: unknown) => isShipoffError(err, 'SHIPOFF_IMAGE_NOT_FOUND') && /never pulls/.test(err.message));
    // The init (PID 1) starts, then cannot exec the program: to Docker that is an exit, not a failed start.
    const broken = await runtime.start({ ...webSpec(1), index: 2, command: ['/no/such/program'] });
    try {
      await eventually('the crash', async () => ((await runtime.list(app)).find((i) => i.id === broken.id)?.state === 'crashed' ? true : undefined));
      assert.match((await consume(runtime.logs(broken.id, { follow: false, tail: 5 }))).join('\n'), /no\/such\/program/);
    } finally {
      await runtime.stop(broken.id, 0);
    }
  });

  it('is found by a second runtime from the labels alone (adoption after a restart)', async () => {
    const later = new DockerRuntime({ docker: new Dockerode(), network });
    try {
      const found = await later.list(app);
      assert.equal(found.length, 1, 'only the managed instance, not the unlabelled container');
      const [adopted] = found;
      assert.deepEqual({ ...adopted!, startedAt: undefined }, { ...web, startedAt: undefined });
      assert.ok((await later.list()).some((i) => i.id === web.id), 'list() without an app sees it too');
    } finally {
      await later.close();
    }
  });

  it('gives log lines, the last ones and followed', async () => {
    const tail = await consume(runtime.logs(web.id, { follow: false, tail: 5 }));
    assert.ok(tail.includes('listening on 5000'), tail.join('|'));
    assert.ok(tail.includes('req /'), tail.join('|'));

    const abort = new AbortController();
    const followed: string[] = [];
    const reading = (async () => {
      for await (const line of runtime.logs(web.id, { follow: true, tail: 0, signal: abort.signal })) {
        followed.push(line);
        if (line === 'req /followed') abort.abort();
      }
    })();
    await eventually('a followed line', async () => {
      await get(web.address!, '/followed');
      return followed.includes('req /followed') ? true : undefined;
    });
    await reading; // ends once aborted
    assert.ok(!followed.includes('listening on 5000'), 'tail 0 starts at the end');
  });

  it('pauses (no answer) and resumes (answers again)', async () => {
    await runtime.pause(web.id);
    assert.equal((await runtime.list(app))[0]?.state, 'paused');
    await assert.rejects(get(web.address!, '/', 500), /timed out/);
    await runtime.resume(web.id);
    assert.equal((await runtime.list(app))[0]?.state, 'running');
    assert.equal(await get(web.address!), 'hi there');
  });

  it('reports a crash, and the restart Docker makes', async () => {
    const crasher = await runtime.start({ app, release: 1, processType: 'worker', index: 1, image, command: ['node', '-e', 'setTimeout(() => process.exit(1), 300)'], env: {} });
    assert.equal(crasher.address, undefined, 'no port, no address');
    const crash = await eventually('a crash event', async () => events.find((e) => e.type === 'crash' && e.instance.id === crasher.id));
    assert.deepEqual(crash, { type: 'crash', instance: { id: crasher.id, app, release: 1, processType: 'worker', index: 1, state: 'crashed' }, exitCode: 1, restarting: true });
    const restart = await eventually('a restart event', async () => events.find((e) => e.type === 'restart' && e.instance.id === crasher.id));
    assert.equal(restart.instance.processType, 'worker');
    await runtime.stop(crasher.id, 0);
  });

  it('stops and removes an instance, with no crash event; stopping again is fine', async () => {
    await runtime.stop(web.id, 5_000);
    await runtime.stop(web.id, 5_000);
    await assert.rejects(docker.getContainer(web.id).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
    await new Promise((r) => setTimeout(r, 300)); // the engine's events arrive a moment later
    assert.ok(!events.some((e) => e.instance.id === web.id), 'a stop asked for is no crash');
    await assert.rejects(runtime.pause(web.id), (err: unknown) => isShipoffError(err, 'SHIPOFF_INSTANCE_NOT_FOUND'));
  });

  it('never stops, pauses or lists a container without com.shipoff.managed', async () => {
    for (const other of [stranger, bare]) {
      await runtime.stop(other.id, 0);
      await assert.rejects(runtime.pause(other.id), (err: unknown) => isShipoffError(err, 'SHIPOFF_INSTANCE_NOT_FOUND'));
      await assert.rejects(consume(runtime.logs(other.id, { follow: false })), (err: unknown) => isShipoffError(err, 'SHIPOFF_INSTANCE_NOT_FOUND'));
    }
    const listed = (await runtime.list()).map((i) => i.id);
    assert.ok(!listed.includes(stranger.id) && !listed.includes(bare.id));
    assert.equal((await stranger.inspect()).State.Running, true);
    await assert.doesNotReject(bare.inspect());
  });

  it('removeApp removes the app\'s instances and images, and nothing else', async () => {
    const one = await runtime.start(webSpec(2));
    const two = await runtime.start({ ...webSpec(2), processType: 'worker', port: undefined, command: ['sleep', '60'] });
    // A release image: committed from an instance, so it carries the managed and app labels.
    await docker.getContainer(one.id).commit({ repo: `shipoff/${app}`, tag: 'v2' });
    assert.equal((await docker.listImages({ filters: { label: [`shipoff.app=${app}`] } })).length, 1);

    await runtime.removeApp(app);
    assert.deepEqual(await runtime.list(app), []);
    for (const id of [one.id, two.id]) await assert.rejects(docker.getContainer(id).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
    assert.equal((await docker.listImages({ filters: { label: [`shipoff.app=${app}`] } })).length, 0);
    assert.equal((await stranger.inspect()).State.Running, true, 'the unmanaged containers are untouched');
    await assert.doesNotReject(bare.inspect());
    await assert.doesNotReject(docker.getImage(image).inspect(), 'the stack image stays');
  });
});
