// apps:destroy and apps:rename over SSH, against a real host: destroy asks
// for the name (or --force), is for the owner, and leaves no container,
// image, repository, cache or route of the app behind — while an app whose
// name starts with the same letters keeps everything. Rename moves the app,
// its routes, its repository and its release images to the new name; pushing
// there works, and a new app of the old name can neither run nor remove them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitAll, push, sshCommand, writeFiles } from './helpers/apps.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `d${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `rm-${run}`;
const TWO = `${APP}-two`;
const NEW = `${APP}-new`;
const THREE = `${APP}-three`;

/** A Node app with no dependencies that answers TEXT. */
function answering(text: string): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'a', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
    'server.js': `require('http').createServer((q, s) => s.end(${JSON.stringify(text)})).listen(process.env.PORT);\n`,
  };
}

function docker(...args: string[]): string[] {
  return execFileSync('docker', args, { encoding: 'utf8' }).split('\n').filter(Boolean);
}
const containersOf = (app: string): string[] => docker('ps', '-aq', '--filter', `label=shipoff.app=${app}`);
const imagesOf = (app: string): string[] => docker('images', '-q', '--filter', `label=shipoff.app=${app}`);

describe('apps:destroy and apps:rename', { timeout: 360_000 }, () => {
  let host: PushingHost;
  let bobKey: string;

  before(async () => {
    host = await startPushingHost('appsdestroy');
    const pushed = await Promise.all([host.pushApp(APP, answering(APP)), host.pushApp(TWO, answering(TWO))]);
    for (const r of pushed) assert.equal(r.code, 0, r.output);
    bobKey = host.newKey('bob');
    assert.equal((await host.shipoff(['keys:add', 'bob'], fs.readFileSync(bobKey + '.pub', 'utf8'))).code, 0);
    const granted = await host.ssh(['access:grant', APP, 'bob', 'developer']);
    assert.equal(granted.code, 0, granted.stderr);
  });

  /** The image each release of the app names, newest first (`releases --json`). */
  async function releaseImages(app: string): Promise<string[]> {
    const r = await host.ssh(['releases', app, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Array<{ image: string }>).map((release) => release.image);
  }

  async function restarts(app: string): Promise<void> {
    const r = await host.ssh(['ps:restart', app]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
  }

  after(async () => {
    // The helper cleans the names it pushed; the renamed app is ours to clean.
    await host?.close();
    const left = containersOf(NEW);
    if (left.length) docker('rm', '-f', ...left);
    const images = imagesOf(TWO).concat(imagesOf(NEW));
    if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  });

  it('without --force, an empty or wrong confirmation changes nothing', async () => {
    for (const stdin of ['', 'rm-wrong\n', `${TWO}\n`]) {
      const r = await host.ssh(['apps:destroy', APP], { stdin });
      assert.equal(r.code, 65, `stdin ${JSON.stringify(stdin)}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`To proceed, type "${APP}"`));
      assert.match(r.stderr, new RegExp(`Confirmation did not match ${APP}\\. Aborted\\.`));
    }
    assert.deepEqual(await host.get(APP), { status: 200, body: APP });
  });

  it('is for the owner: a developer is refused and told which role it needs', async () => {
    for (const args of [['apps:destroy', APP, '--force'], ['apps:rename', APP, `${APP}-bob`]]) {
      const r = await host.ssh(args, { keyFile: bobKey, stdin: `${APP}\n` });
      assert.equal(r.code, 77, r.stderr);
      assert.match(r.stderr, new RegExp(`needs the owner role on ${APP}`));
    }
    assert.deepEqual(await host.get(APP), { status: 200, body: APP });
  });

  it('destroys the app (name typed on stdin) and leaves nothing of it, and everything of the other app', async () => {
    const twoContainers = containersOf(TWO);
    const twoImages = imagesOf(TWO);
    assert.ok(containersOf(APP).length > 0 && imagesOf(APP).length > 0, 'the app had containers and images');
    assert.ok(twoContainers.length > 0 && twoImages.length > 0);

    const r = await host.ssh(['apps:destroy', APP], { stdin: `${APP}\n` });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`${APP} is destroyed`));

    assert.deepEqual(containersOf(APP), [], 'no container');
    assert.deepEqual(imagesOf(APP), [], 'no image');
    for (const dir of [['repos', `${APP}.git`], ['cache', APP], ['static', APP]]) assert.equal(fs.existsSync(path.join(host.dataDir, ...dir)), false, dir.join('/'));
    assert.equal((await host.get(APP)).status, 404, 'no route');
    const list = await host.ssh(['apps:list', '--json']);
    assert.deepEqual((JSON.parse(list.stdout) as { apps: Array<{ name: string }> }).apps.map((a) => a.name), [TWO]);
    const events = await host.ssh(['events', '--json']);
    assert.ok((JSON.parse(events.stdout) as Array<{ action: string; app: string }>).some((e) => e.action === 'apps:destroy' && e.app === APP), events.stdout);

    assert.deepEqual(await host.get(TWO), { status: 200, body: TWO });
    assert.deepEqual(containersOf(TWO).sort(), twoContainers.sort(), 'the other app keeps its containers');
    assert.deepEqual(imagesOf(TWO).sort(), twoImages.sort(), 'and its images');
    assert.ok(fs.existsSync(path.join(host.dataDir, 'repos', `${TWO}.git`)));
  });

  it('a push to the destroyed name makes a fresh app', async () => {
    const r = await host.pushApp(APP, answering(`${APP} again`), 'again');
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /release v1/);
    assert.deepEqual(await host.get(APP), { status: 200, body: `${APP} again` });
  });

  it('renaming to a name in use fails with 65 and changes nothing', async () => {
    const r = await host.ssh(['apps:rename', TWO, APP]);
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, new RegExp(`App ${APP} already exists`));
    assert.deepEqual(await host.get(TWO), { status: 200, body: TWO });
    assert.deepEqual(await host.get(APP), { status: 200, body: `${APP} again` });
  });

  it('renames: the new name answers with its release images, the old one is gone', async () => {
    const r = await host.ssh(['apps:rename', TWO, NEW]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`${TWO} is now ${NEW}`));
    assert.deepEqual(await host.get(NEW), { status: 200, body: TWO });
    assert.equal((await host.get(TWO)).status, 404);
    assert.deepEqual(containersOf(TWO), [], 'instances of the old name are stopped');
    assert.ok(containersOf(NEW).length > 0);
    assert.equal(fs.existsSync(path.join(host.dataDir, 'repos', `${TWO}.git`)), false);
    assert.ok(fs.existsSync(path.join(host.dataDir, 'repos', `${NEW}.git`)));
    const info = await host.ssh(['apps:info', NEW, '--json']);
    assert.equal(info.code, 0, info.stderr);
    assert.equal((JSON.parse(info.stdout) as { release: { version: number } }).release.version, 1, 'the release came along');
    assert.equal((await host.ssh(['apps:info', TWO])).code, 66);
    assert.deepEqual(await releaseImages(NEW), [`shipoff/${NEW}:v1`], 'the release names its image under the new name');
    assert.deepEqual(docker('images', '-q', `shipoff/${TWO}`), [], 'no tag of the old name is left');
    assert.deepEqual(imagesOf(TWO), [], 'nor an image labelled with it');
    assert.ok(imagesOf(NEW).length > 0);
  });

  it('a new app of the old name touches none of the renamed app\'s images', async () => {
    const newImages = imagesOf(NEW).sort();
    const pushed = await host.pushApp(TWO, answering(`${TWO} reborn`), 'reborn');
    assert.equal(pushed.code, 0, pushed.output);
    assert.match(pushed.output, /release v1/);
    assert.deepEqual(await host.get(TWO), { status: 200, body: `${TWO} reborn` });
    // The new app's v1 took the tag shipoff/TWO:v1; the renamed app's v1 is not that image.
    await restarts(NEW);
    assert.deepEqual(await host.get(NEW), { status: 200, body: TWO }, 'the renamed app runs its own code');

    const destroyed = await host.ssh(['apps:destroy', TWO, '--force']);
    assert.equal(destroyed.code, 0, destroyed.stderr + destroyed.stdout);
    assert.deepEqual(imagesOf(NEW).sort(), newImages, 'the renamed app keeps its images');
    await restarts(NEW);
    assert.deepEqual(await host.get(NEW), { status: 200, body: TWO });
    assert.deepEqual(await releaseImages(NEW), [`shipoff/${NEW}:v1`]);
  });

  it('pushing to the new name deploys', async () => {
    // The local clone that pushed TWO, pointed at the new name.
    const repo = path.join(host.scratch, 'repos', TWO);
    writeFiles(repo, answering(`${NEW} v2`));
    commitAll(repo, 'after the rename');
    const env = { GIT_SSH_COMMAND: sshCommand(path.join(host.scratch, 'id_admin'), host.sshPort) };
    const pushed = await push(repo, [`ssh://shipoff@127.0.0.1:${host.sshPort}/${NEW}.git`, 'main'], env);
    assert.equal(pushed.code, 0, pushed.output);
    assert.match(pushed.output, new RegExp(`${NEW} v2 is live`));
    assert.deepEqual(await host.get(NEW), { status: 200, body: `${NEW} v2` });
    assert.deepEqual(await host.get(APP), { status: 200, body: `${APP} again` }, 'the other app is untouched');
    assert.deepEqual(await releaseImages(NEW), [`shipoff/${NEW}:v2`, `shipoff/${NEW}:v1`]);
    // A rollback to the release built under the old name runs that code, from its copy.
    const back = await host.ssh(['rollback', NEW, 'v1']);
    assert.equal(back.code, 0, back.stderr + back.stdout);
    assert.deepEqual(await host.get(NEW), { status: 200, body: TWO });
  });

  it('a rename whose restart fails is undone: the old name keeps its app and keeps serving', async () => {
    // This app refuses to start under any other name than its own.
    const files = answering(THREE);
    files['server.js'] = `if (process.env.SHIPOFF_APP !== ${JSON.stringify(THREE)}) process.exit(3);\n` + files['server.js'];
    const pushed = await host.pushApp(THREE, files);
    assert.equal(pushed.code, 0, pushed.output);
    const r = await host.ssh(['apps:rename', THREE, `${THREE}-x`]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout, /undoing the rename/);
    assert.match(r.stdout, new RegExp(`${THREE} keeps its name and keeps serving`));
    assert.deepEqual(await host.get(THREE), { status: 200, body: THREE });
    assert.equal((await host.get(`${THREE}-x`)).status, 404);
    assert.equal((await host.ssh(['apps:info', THREE])).code, 0);
    assert.ok(fs.existsSync(path.join(host.dataDir, 'repos', `${THREE}.git`)));
    assert.deepEqual(containersOf(`${THREE}-x`), []);
    assert.deepEqual(await releaseImages(THREE), [`shipoff/${THREE}:v1`], 'the release points at its image again');
    assert.deepEqual(docker('images', '-q', `shipoff/${THREE}-x`), [], 'and the copy is gone');
    assert.deepEqual(imagesOf(`${THREE}-x`), []);
    assert.ok(imagesOf(THREE).length > 0);
  });

  it('destroying the renamed app (--force) removes every image of it, the one built under its earlier name too', async () => {
    const v1 = docker('images', '-q', `shipoff/${NEW}:v1`);
    assert.equal(v1.length, 1, 'v1 was built as the old name and carries the new one');
    const r = await host.ssh(['apps:destroy', NEW, '--force']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(containersOf(NEW), []);
    assert.deepEqual(imagesOf(NEW).concat(imagesOf(TWO)), []);
    // Not even the original it was copied from, under no tag (docker images -a shows those).
    assert.deepEqual(docker('images', '-aq', '--filter', `label=shipoff.app=${TWO}`), []);
    assert.equal(fs.existsSync(path.join(host.dataDir, 'repos', `${NEW}.git`)), false);
    assert.equal((await host.get(NEW)).status, 404);
    assert.deepEqual(await host.get(APP), { status: 200, body: `${APP} again` });
  });
});
