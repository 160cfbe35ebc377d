// How a release image runs a Procfile command: source the buildpacks'
// .profile.d scripts (PATH, NODE_ENV, ...) and exec the command with bash.

const LAUNCHER = 'shopt -s nullglob; for f in /app/.profile.d/*.sh; do . "$f"; done; exec bash -c "$1"';

/** The container command for a Procfile command. The command is passed as
 * the positional argument $1, never spliced into the script, so its text is
 * data to the launcher and is parsed once, by the inner `bash -c`. */
export function launchArgv(command: string): string[] {
  return ['/bin/bash', '-c', LAUNCHER, 'launch', command];
}
