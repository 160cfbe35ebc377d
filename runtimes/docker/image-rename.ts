// A renamed app's release images follow it: shipoff/OLD:vN becomes a copy
// tagged shipoff/NEW:vN and labelled shipoff.app=NEW, so a new app named OLD
// can neither take over its tags nor remove it by label. Docker cannot change
// an image's labels in place; a build of `FROM <image id>` with the new label
// is metadata only (a new image config, no layer, no files copied), and the
// original becomes its parent.
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { LABEL } from './labels.js';

interface EngineError {
  statusCode?: number;
  message?: string;
  json?: { message?: string };
}

/** The reference the image of `ref` gets under the app's new name; undefined for what is no release image. */
export function renamedRef(ref: string, newApp: string): string | undefined {
  const tag = /^shipoff\/[a-z0-9-]+:(v\d+)$/.exec(ref)?.[1];
  return tag === undefined ? undefined : `shipoff/${newApp}:${tag}`;
}

/**
 * Copies each existing image to its new name; the originals are left as they
 * are (untagImages drops them once the rename went through). Resolves to
 * old → new reference for every release image reference, also one whose
 * image is gone (pruned by hand): pointed at the new name it stays missing,
 * rather than finding what a new app of the old name builds under that tag.
 * A copy that fails removes the copies made.
 */
export async function renameImages(docker: Dockerode, images: string[], newApp: string): Promise<Map<string, string>> {
  const renamed = new Map<string, string>();
  try {
    for (const ref of new Set(images)) {
      const target = renamedRef(ref, newApp);
      if (target === undefined) continue;
      const id = await imageId(docker, ref);
      if (id !== undefined) await relabel(docker, id, target, newApp);
      renamed.set(ref, target);
    }
  } catch (err) {
    await untagImages(docker, [...renamed.values()]).catch(() => {});
    throw err;
  }
  return renamed;
}

/** Removes references only: noprune keeps parent images, and an image that
 * another tag or image still needs stays (the engine just drops the name). */
export async function untagImages(docker: Dockerode, refs: string[]): Promise<void> {
  for (const ref of new Set(refs)) {
    await docker
      .getImage(ref)
      .remove({ noprune: true })
      .catch((err: EngineError) => {
        if (err.statusCode !== 404) throw err;
      });
  }
}

async function imageId(docker: Dockerode, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if ((err as EngineError).statusCode === 404) return undefined;
    throw err;
  }
}

/** Builds `FROM <id>` with the app label replaced; every other label and the config are inherited. */
async function relabel(docker: Dockerode, id: string, target: string, app: string): Promise<void> {
  const context = oneFileTar('Dockerfile', `FROM ${id}\n`);
  const stream = await docker.buildImage(context, {
    t: target,
    labels: { [LABEL.app]: app },
    // The image is local and no registry is assumed: never pull.
    pull: false,
    rm: true,
    forcerm: true,
  } as Dockerode.ImageBuildOptions);
  const failure = await new Promise<string | undefined>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, messages: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
      if (err) return reject(err);
      const failed = messages.find((m) => m.error !== undefined);
      resolve(failed ? (failed.errorDetail?.message ?? failed.error) : undefined);
    });
  });
  if (failure !== undefined) throw new Error(`relabelling ${id} as ${target}: ${failure.trim()}`);
}

/** A tar archive holding one regular file: the build context. */
function oneFileTar(name: string, text: string): NodeJS.ReadableStream {
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, n: number) => field(offset, length, n.toString(8).padStart(length - 1, '0') + '\0');
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, body.length);
  octal(136, 12, Math.floor(Date.now() / 1000)); // mtime
  header.fill(' ', 148, 156); // the checksum counts its own field as spaces
  field(156, 1, '0'); // a regular file
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  const end = Buffer.alloc(1024); // two zero blocks end the archive
  const archive = Buffer.concat([header, body, padding, end]);
  return Readable.from([archive]);
}
