// Turns a git push into deploys: only the app's deploy branch deploys (main,
// or master while the repository has no main); other branches are stored as
// they are. The commit's tree is read with the pre-receive hook's own git
// environment, because the pushed objects are still in git's quarantine.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { ShipoffError } from '../core/index.js';
import type { Deployer } from '../deployer/index.js';
import type { PushRequest } from '../gitd/index.js';

const run = promisify(execFile);
const ZERO = /^0+$/;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** Where a ref points now, or undefined when it does not exist. */
async function refValue(push: PushRequest, ref: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--verify', '--quiet', ref], { cwd: push.gitDir, env: { ...process.env, ...push.gitEnv } });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

async function hasBranch(push: PushRequest, branch: string): Promise<boolean> {
  return (await refValue(push, `refs/heads/${branch}`)) !== undefined;
}

const MAX_SOURCE_FILE = 64 * 1024;

/** A small regular file of the pushed commit (not a symlink, not a directory),
 * or null. Read with the hook's environment, like the tree itself. */
async function readTreeFile(push: PushRequest, sha: string, file: string): Promise<string | null> {
  const env = { ...process.env, ...push.gitEnv };
  try {
    // -l adds the size: "<mode> blob <sha> <size>\t<path>".
    const { stdout } = await run('git', ['ls-tree', '-l', '-z', sha, '--', file], { cwd: push.gitDir, env });
    const entry = /^(\d+) blob ([0-9a-f]+) +(\d+)\t/.exec(stdout);
    if (!entry || (entry[1] !== '100644' && entry[1] !== '100755')) return null;
    if (Number(entry[3]) > MAX_SOURCE_FILE) return null;
    const { stdout: text } = await run('git', ['cat-file', 'blob', entry[2]!], { cwd: push.gitDir, env, encoding: 'utf8' });
    return text;
  } catch {
    return null;
  }
}

/** The ref this push deploys, if any. */
export async function deployRefOf(push: PushRequest): Promise<string | undefined> {
  const wanted = `refs/heads/${push.app.deployBranch}`;
  const refs = push.updates.map((u) => u.ref);
  if (refs.includes(wanted)) return wanted;
  // Default branch main falls back to master, for repositories made before main.
  if (push.app.deployBranch === 'main' && refs.includes('refs/heads/master') && !(await hasBranch(push, 'main'))) return 'refs/heads/master';
  return undefined;
}

export function pushHandler(deployer: Deployer) {
  return async (push: PushRequest): Promise<{ accept: boolean }> => {
    const deployRef = await deployRefOf(push);
    for (const u of push.updates) {
      if (u.ref !== deployRef) {
        const branch = u.ref.replace(/^refs\/heads\//, '');
        push.output(`-----> ${ZERO.test(u.newSha) ? 'Deleting' : 'Storing'} ${branch} without deploying (${push.app.name} deploys from ${push.app.deployBranch})`);
      }
    }
    const update = push.updates.find((u) => u.ref === deployRef);
    if (!update) return { accept: true };
    if (ZERO.test(update.newSha)) {
      push.output(` !     ${update.ref.replace(/^refs\/heads\//, '')} is the deploy branch of ${push.app.name} and cannot be deleted`);
      return { accept: false };
    }
    if (!SHA.test(update.newSha)) return { accept: false };
    const ok = await deployer.deploy({
      app: push.app,
      user: push.user,
      commitSha: update.newSha,
      branch: update.ref.replace(/^refs\/heads\//, ''),
      output: push.output,
      signal: push.signal,
      holdTurnUntil: push.ended,
      // git updates the ref only after this hook, and only if it still holds
      // the old value; a push that waited behind another one would build and
      // go live, then fail to update the branch. Refuse it before building.
      stillCurrent: async () => {
        const now = await refValue(push, update.ref);
        if (now === undefined ? !ZERO.test(update.oldSha) : now !== update.oldSha) {
          throw new ShipoffError('SHIPOFF_PUSH_RACED', { app: push.app.name, branch: update.ref.replace(/^refs\/heads\//, '') });
        }
      },
      readSourceFile: (file) => readTreeFile(push, update.newSha, file),
      source: () => {
        const child = spawn('git', ['archive', '--format=tar', update.newSha], {
          cwd: push.gitDir,
          env: { ...process.env, ...push.gitEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('close', (code) => {
          if (code !== 0) child.stdout.destroy(new Error(`git archive ${update.newSha.slice(0, 7)} failed: ${stderr.trim()}`));
        });
        return child.stdout;
      },
    });
    return { accept: ok };
  };
}
