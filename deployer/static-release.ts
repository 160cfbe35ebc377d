// Static releases: a release whose web process is the static buildpack's
// server is not run in a container. Its image's /app is extracted once into
// SHIPOFF_DATA/static/<app>/v<N>/ and the router serves those files itself
// (the host hands it the repository's own static server). Other process
// types of the release (a worker) still run in containers.
//
// Extraction never runs the image: a container is created (not started),
// /app is read with getArchive and unpacked by the system tar (argv, no
// shell) with --no-same-owner. GNU tar refuses members with ".." and
// absolute names, and delays making symlinks until the end, so no member is
// written through a symlink of the archive; the static server then refuses
// any file whose real path leaves the release's directory.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';

/** The web command the static and Node.js buildpacks give static sites. */
export const STATIC_WEB_COMMAND = 'node .shipoff/static-server.js';

/** Is this release served from its files (its web process is the static server)? */
export function isStaticRelease(release: { processTypes: Record<string, string> }): boolean {
  return release.processTypes.web?.trim().replace(/\s+/g, ' ') === STATIC_WEB_COMMAND;
}

export interface StaticReleasesDeps {
  docker: Dockerode;
  /** SHIPOFF_DATA: releases go to <dataDir>/static/<app>/v<N>/. */
  dataDir: string;
  /** Loads the site in DIR as the router will (static.json read and checked); throws when it cannot serve. */
  check: (dir: string) => Promise<void>;
  /** Called once a directory is removed (the host forgets what it loaded from it). */
  onRemoved?: (dir: string) => void;
  log: (line: string) => void;
  /** Labels of the short-lived container made to read the image. */
  labels?: Record<string, string>;
}

export class StaticReleases {
  constructor(private readonly deps: StaticReleasesDeps) {}

  appDir(app: string): string {
    return path.join(this.deps.dataDir, 'static', app);
  }

  dirOf(app: string, version: number): string {
    return path.join(this.appDir(app), `v${version}`);
  }

  /** The release's files on disk (extracted unless they are there already), checked; returns the directory. */
  async prepare(app: string, version: number, image: string, out: (line: string) => void = () => {}): Promise<string> {
    const dir = this.dirOf(app, version);
    if (!fs.existsSync(dir)) {
      out(`-----> Extracting the static site of v${version} for the router`);
      await this.extract(app, image, dir);
    }
    await this.deps.check(dir);
    out('       static.json (if any) is valid; the router serves the files itself (no web container)');
    return dir;
  }

  private async extract(app: string, image: string, dir: string): Promise<void> {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now().toString(36)}`;
    await fs.promises.mkdir(tmp, { recursive: true, mode: 0o755 });
    let container: Dockerode.Container | undefined;
    try {
      container = await this.deps.docker.createContainer({
        Image: image,
        Cmd: ['true'],
        Labels: { ...this.deps.labels, 'shipoff.static-extract': app },
        NetworkDisabled: true,
      });
      const archive = await container.getArchive({ path: '/app' });
      // The archive holds app/…: strip it. No shell: argv only.
      const tar = spawn('tar', ['-x', '-f', '-', '-C', tmp, '--no-same-owner', '--no-same-permissions', '--strip-components=1'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      tar.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
      const exited = new Promise<number | null>((resolve, reject) => {
        tar.once('error', reject);
        tar.once('close', resolve);
      });
      // tar may stop reading at the archive's end marker, before the engine's
      // stream ends (padding): its exit status, not the feed, says how it went.
      // A stream cut short gives tar a truncated archive, which it fails on.
      const fed = pipeline(archive, tar.stdin).catch((err: Error) => err);
      const code = await exited;
      const feedError = await fed;
      if (code !== 0) throw new Error(`tar exited with status ${code}: ${stderr.trim() || feedError?.message || ''}`);
      // Only tar closing its input early is expected; a failed read from the engine is not.
      const feedCode = (feedError as NodeJS.ErrnoException | undefined)?.code;
      if (feedError && feedCode !== 'ERR_STREAM_PREMATURE_CLOSE' && feedCode !== 'EPIPE') throw feedError;
      await fs.promises.rename(tmp, dir);
    } catch (err) {
      await removeTree(tmp);
      throw new Error(`extracting the static site of ${app} from ${image}: ${(err as Error).message}`, { cause: err });
    } finally {
      await container?.remove({ force: true }).catch(() => {});
    }
  }

  /** What a host that died mid-extraction left: its reading containers and
   * half-written directories. Run at start, before any extraction. */
  async removeLeftovers(): Promise<number> {
    const host = this.deps.labels?.['shipoff.host'];
    const containers = await this.deps.docker.listContainers({ all: true, filters: { label: ['shipoff.static-extract', ...(host ? [`shipoff.host=${host}`] : [])] } });
    await Promise.all(containers.map((c) => this.deps.docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
    let dirs = 0;
    const root = path.join(this.deps.dataDir, 'static');
    for (const app of await fs.promises.readdir(root).catch(() => [] as string[])) {
      for (const name of await fs.promises.readdir(path.join(root, app)).catch(() => [] as string[])) {
        if (!/^v\d+\.tmp-/.test(name)) continue;
        await removeTree(path.join(root, app, name));
        dirs++;
      }
    }
    return containers.length + dirs;
  }

  /**
   * Removes every version directory of the app but KEEP (none: all), once
   * `drained(dir)` says their requests finished (it waits for the grace).
   */
  async retire(app: string, keep: number | undefined, drained: (dir: string) => Promise<unknown>): Promise<void> {
    let entries: string[];
    try {
      entries = await fs.promises.readdir(this.appDir(app));
    } catch {
      return; // never static
    }
    const old = entries.filter((name) => /^v\d+$/.test(name) && name !== `v${keep}`);
    await Promise.all(
      old.map(async (name) => {
        const dir = path.join(this.appDir(app), name);
        await drained(dir);
        await removeTree(dir);
        this.deps.onRemoved?.(dir);
        this.deps.log(`-----> ${app}: removed the files of static release ${name}`);
      }),
    );
  }
}

/** rm -r that also copes with directories extracted without write permission. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await fs.promises.rm(dir, { recursive: true, force: true });
  } catch {
    await new Promise<void>((resolve) => {
      // chmod -R does not follow symlinks met while recursing.
      const chmod = spawn('chmod', ['-R', 'u+rwx', '--', dir], { stdio: 'ignore' });
      chmod.once('close', () => resolve());
      chmod.once('error', () => resolve());
    });
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
