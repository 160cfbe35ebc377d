// Puts the buildpacks an app chose where a build container can use them:
// ours are already under /shipoff/buildpacks; a host directory is mounted
// read-only; a git URL is cloned (no shell: argv only, prompts off, only the
// http, https, git and file transports) into the build's temp directory.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { ShipoffError } from '../core/errors.js';
import { describeRef, type BuildpackRef, type ChosenBuildpacks } from './buildpack-refs.js';

const run = promisify(execFile);
const CLONE_TIMEOUT_MS = 120_000;
const OURS_IN_CONTAINER = '/shipoff/buildpacks';
const CUSTOM_IN_CONTAINER = '/shipoff/custom';

export interface PlacedBuildpacks {
  /** Buildpack directories inside the container, in order. */
  dirs: string[];
  mounts: Dockerode.MountSettings[];
}

export function builtinDirs(names: readonly string[]): string[] {
  return names.map((name) => `${OURS_IN_CONTAINER}/${name}`);
}

export async function placeBuildpacks(
  chosen: ChosenBuildpacks,
  workDir: string,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<PlacedBuildpacks> {
  const placed: PlacedBuildpacks = { dirs: [], mounts: [] };
  for (const [i, ref] of chosen.refs.entries()) {
    if (ref.kind === 'builtin') {
      placed.dirs.push(...builtinDirs([ref.buildpack.dir]));
      continue;
    }
    const target = `${CUSTOM_IN_CONTAINER}/${i + 1}-${slugOf(ref)}`;
    let hostPath: string;
    if (ref.kind === 'dir') {
      onLine(`-----> Using buildpack ${describeRef(ref)}`);
      hostPath = ref.path;
    } else {
      hostPath = join(workDir, `buildpack-${i + 1}`);
      await clone(ref, hostPath, chosen.source, onLine, signal);
    }
    await checkContract(hostPath, ref, chosen.source);
    placed.dirs.push(target);
    placed.mounts.push({ Type: 'bind', Source: hostPath, Target: target, ReadOnly: true });
  }
  return placed;
}

async function clone(
  ref: Extract<BuildpackRef, { kind: 'git' }>,
  dest: string,
  source: string,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const shown = describeRef(ref);
  onLine(`-----> Fetching buildpack ${shown}`);
  const git = (args: string[], cwd?: string) =>
    run('git', args, {
      cwd,
      timeout: CLONE_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ALLOW_PROTOCOL: 'http:https:git:file', GIT_ASKPASS: 'true' },
    });
  const fail = (err: unknown) => {
    if (signal?.aborted) return new ShipoffError('SHIPOFF_BUILD_CANCELLED');
    const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message ?? err);
    const reason = stderr.split('\n').map((l) => l.replace(/^fatal: /, '').trim()).filter(Boolean).slice(-2).join('; ') || 'git clone failed';
    return new ShipoffError('SHIPOFF_BUILDPACK_FETCH', { ref: shown, source, reason: reason.replace(/\/\/[^/@\s]*@/g, '//') });
  };
  await mkdir(dest, { recursive: true });
  try {
    if (ref.ref === undefined) {
      await git(['clone', '--quiet', '--depth', '1', '--', ref.url, dest]);
    } else {
      try {
        await git(['clone', '--quiet', '--depth', '1', '--branch', ref.ref, '--', ref.url, dest]);
      } catch (err) {
        // --branch takes branches and tags; a commit needs the whole history.
        if (!/^[0-9a-f]{7,40}$/.test(ref.ref)) throw err;
        await git(['clone', '--quiet', '--no-checkout', '--', ref.url, dest]);
        await git(['checkout', '--quiet', '--detach', ref.ref, '--'], dest);
      }
    }
    const { stdout } = await git(['rev-parse', '--short', 'HEAD'], dest);
    onLine(`       at ${stdout.trim()}${ref.ref ? ` (#${ref.ref})` : ''}`);
  } catch (err) {
    throw fail(err);
  }
}

/** bin/detect and bin/compile must be there (bin/release is optional), and
 * executable whatever mode the repository gave them. */
async function checkContract(dir: string, ref: BuildpackRef, source: string): Promise<void> {
  const bin = join(dir, 'bin');
  const have = await readdir(bin).catch(() => [] as string[]);
  const missing = ['detect', 'compile'].filter((name) => !have.includes(name));
  if (missing.length > 0) {
    throw new ShipoffError('SHIPOFF_BUILDPACK_INVALID', {
      source,
      ref: describeRef(ref),
      reason: `it has no ${missing.map((m) => `bin/${m}`).join(' or ')} (the Heroku buildpack contract needs bin/detect and bin/compile)`,
    });
  }
  if (ref.kind !== 'git') {
    // A host directory is mounted as it is, so its scripts must already run.
    for (const name of ['detect', 'compile']) {
      if (((await stat(join(bin, name))).mode & 0o111) === 0) {
        throw new ShipoffError('SHIPOFF_BUILDPACK_INVALID', { source, ref: describeRef(ref), reason: `bin/${name} is not executable (chmod +x it)` });
      }
    }
    return;
  }
  for (const name of have) {
    const file = join(bin, name);
    if ((await stat(file)).isFile()) await chmod(file, 0o755);
  }
}

function slugOf(ref: BuildpackRef): string {
  const base = ref.kind === 'dir' ? basename(ref.path) : ref.kind === 'git' ? basename(ref.url.replace(/\/+$/, '')) : ref.buildpack.dir;
  return base.replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40) || 'buildpack';
}
