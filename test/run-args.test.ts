// The pieces of `run` that need no engine: its argv taken word for word, the
// launch argv in a buildpack image, and the SSH terminal's sizes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adminCommands, parseCommandArgs } from '../admin/index.js';
import { oneOffArgv } from '../buildpacks/index.js';
import { ShipoffError } from '../core/index.js';
import { ptyTerminal } from '../gitd/ssh-terminal.js';

describe('run: argv, launch and terminal', () => {
  const run = adminCommands().get('run');

  it('takes every word after APP as given, options too, with -- as an optional separator', () => {
    assert.deepEqual(parseCommandArgs(run, ['app', 'ls', '-la', '--color=never'])?.positionals, ['app', 'ls', '-la', '--color=never']);
    assert.deepEqual(parseCommandArgs(run, ['app', '--', 'ls', '-la'])?.positionals, ['app', 'ls', '-la']);
    assert.deepEqual(parseCommandArgs(run, ['--', 'app', 'sh', '-c', 'exit 3'])?.positionals, ['app', 'sh', '-c', 'exit 3']);
    assert.deepEqual(parseCommandArgs(run, ['app', 'cmd', '--'])?.positionals, ['app', 'cmd', '--']);
    assert.equal(parseCommandArgs(run, ['--help']), undefined);
    assert.throws(() => parseCommandArgs(run, ['--bogus', 'app', 'ls']), (err: unknown) => err instanceof ShipoffError && err.code === 'SHIPOFF_USAGE');
    assert.throws(() => parseCommandArgs(run, ['app']), /missing argument/);
  });

  it('other commands still parse options anywhere', () => {
    const autosleep = adminCommands().get('ps:autosleep');
    assert.equal(parseCommandArgs(autosleep, ['app', '--help']), undefined);
  });

  it('a buildpack image runs the words as positional parameters of a fixed script; a Dockerfile image as they are', () => {
    const argv = oneOffArgv(['sh', '-c', 'echo "$HOME"; rm -rf /'], 'buildpack');
    assert.equal(argv[0], '/bin/bash');
    assert.equal(argv[1], '-c');
    assert.match(argv[2]!, /\.profile\.d.*exec "\$@"$/);
    assert.deepEqual(argv.slice(3), ['run', 'sh', '-c', 'echo "$HOME"; rm -rf /']);
    assert.deepEqual(oneOffArgv(['ls', '-la'], 'dockerfile'), ['ls', '-la']);
  });

  it('the terminal keeps sane sizes and tells its listeners of changes', () => {
    const pty = ptyTerminal({ term: 'xterm-256color', cols: 0, rows: 50 });
    assert.deepEqual([pty.terminal.cols, pty.terminal.rows, pty.terminal.term], [80, 50, 'xterm-256color']);
    const seen: string[] = [];
    const stop = pty.terminal.onResize(({ cols, rows }) => seen.push(`${cols}x${rows}`));
    pty.resize(120, 40);
    pty.resize(1e9, -1);
    stop();
    pty.resize(100, 30);
    assert.deepEqual(seen, ['120x40', '120x40']);
  });
});
