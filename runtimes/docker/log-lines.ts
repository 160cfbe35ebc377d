// Docker multiplexes a container's stdout and stderr into one stream of frames
// (without a TTY): an 8-byte header [stream, 0, 0, 0, size uint32 BE] and then
// size bytes. This turns those frames into text lines, keeping each stream's
// unfinished line apart so stdout and stderr never splice into one line.
import { StringDecoder } from 'node:string_decoder';

const HEADER = 8;

export async function* demuxLines(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let pending: Buffer = Buffer.alloc(0);
  const partial = new Map<number, string>();
  // A long line arrives in several frames, which may cut a UTF-8 character.
  const decoders = new Map<number, StringDecoder>();

  function* linesOf(stream: number, bytes: Buffer): Generator<string> {
    let decoder = decoders.get(stream);
    if (!decoder) decoders.set(stream, (decoder = new StringDecoder('utf8')));
    const parts = ((partial.get(stream) ?? '') + decoder.write(bytes)).split('\n');
    partial.set(stream, parts.pop() ?? '');
    for (const line of parts) yield line.endsWith('\r') ? line.slice(0, -1) : line;
  }

  for await (const chunk of chunks) {
    pending = Buffer.concat([pending, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    while (pending.length >= HEADER) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER + size) break;
      const stream = pending[0] ?? 1;
      const payload = pending.subarray(HEADER, HEADER + size);
      pending = pending.subarray(HEADER + size);
      yield* linesOf(stream, payload);
    }
  }
  // The last line of each stream may lack its newline.
  for (const rest of partial.values()) if (rest !== '') yield rest;
}
