// The pre-receive hook git runs for every push (see repos.ts for the file
// that loads this). It imports nothing of Shipoff so that it starts in the
// time Node itself takes: it reads the ref updates git gives on stdin, hands
// them with the push's token and git's quarantine environment to the daemon
// over its unix socket, writes the lines it gets back to stderr (git shows
// them as "remote: …" while the push is open) and exits 0 if the daemon
// accepts the push.
import net from 'node:net';

/** The variables that say where this push's objects are while git holds them in quarantine. */
const GIT_VARIABLES = ['GIT_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH'];

function fail(message: string): never {
  process.stderr.write(` !     ${message}\n`);
  process.exit(1);
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
  return text;
}

async function main(): Promise<void> {
  const token = process.env.SHIPOFF_PUSH_TOKEN;
  const socketPath = process.env.SHIPOFF_HOOK_SOCKET;
  if (!token || !socketPath) fail("this push did not come through Shipoff's git daemon; push over SSH or HTTP");
  const updates = (await readStdin()).split('\n').filter((line) => line.trim() !== '');
  const env: Record<string, string> = {};
  for (const name of GIT_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const socket = net.connect(socketPath);
  let accepted: boolean | undefined;
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('connect', () => socket.write(JSON.stringify({ token, updates, env, cwd: process.cwd() }) + '\n'));
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const message = JSON.parse(buffered.slice(0, newline)) as { line?: string; accept?: boolean };
      buffered = buffered.slice(newline + 1);
      if (typeof message.line === 'string') process.stderr.write(message.line + '\n');
      if (typeof message.accept === 'boolean') accepted = message.accept;
    }
  });
  socket.on('error', (err: Error) => fail(`the Shipoff git daemon is not reachable (${err.message})`));
  socket.on('close', () => {
    if (accepted === undefined) fail('the Shipoff git daemon went away during the push; nothing was changed');
    process.exit(accepted ? 0 : 1);
  });
}

main().catch((err: unknown) => fail(`the deploy hook failed: ${err instanceof Error ? err.message : String(err)}`));
