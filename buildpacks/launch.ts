// How a release image runs a Procfile command. Buildpack images: source the
// buildpacks' .profile.d scripts (PATH, NODE_ENV, ...) and exec the command
// with bash. Dockerfile images may have no bash and no .profile.d: their own
// ENTRYPOINT/CMD, or a Procfile command with /bin/sh.

const PROFILE = 'shopt -s nullglob; for f in /app/.profile.d/*.sh; do . "$f"; done;';
const LAUNCHER = `${PROFILE} exec bash -c "$1"`;
/** A one-off command's words are the script's positional parameters: no shell parses them. */
const RUNNER = `${PROFILE} exec "$@"`;

/** A Dockerfile release's `web` when no Procfile names one: run the image as built. */
export const IMAGE_DEFAULT_COMMAND = '(image default)';

/** The container command for a Procfile command; [] runs the image's own.
 * The command is passed as the positional argument $1, never spliced into
 * the script, so its text is data to the launcher and is parsed once, by
 * the inner `bash -c`. */
export function launchArgv(command: string, builder: 'buildpack' | 'dockerfile' = 'buildpack'): string[] {
  if (builder === 'dockerfile') return command === IMAGE_DEFAULT_COMMAND ? [] : ['/bin/sh', '-c', command];
  return ['/bin/bash', '-c', LAUNCHER, 'launch', command];
}

/** The container command for a one-off `shipoff run` argv, in the same
 * environment as the release's processes; the words are passed as they are. */
export function oneOffArgv(argv: string[], builder: 'buildpack' | 'dockerfile' = 'buildpack'): string[] {
  if (builder === 'dockerfile') return argv;
  return ['/bin/bash', '-c', RUNNER, 'run', ...argv];
}
