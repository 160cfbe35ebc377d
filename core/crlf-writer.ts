// Text for a raw terminal: a client under `ssh -t` (or the local CLI with a
// terminal) puts its terminal in raw mode, and no line discipline on our side
// turns \n into \r\n, so lines written as is would start where the last ended.
import { Writable } from 'node:stream';

/** The client's terminal is raw under ssh -t: our own messages need \r\n to start their lines at the left. */
export function crlfWriter(target: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // Written on at once (the target buffers), so nothing written later overtakes it.
      target.write(toCrlf(chunk));
      callback();
    },
  });
}

const CR = Buffer.from('\r');

/** Each \n not already after a \r gets one, byte by byte (a UTF-8 character may span chunks). */
function toCrlf(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (i > 0 && bytes[i - 1] === 13) continue;
    parts.push(bytes.subarray(start, i), CR);
    start = i;
  }
  parts.push(bytes.subarray(start));
  return Buffer.concat(parts);
}
