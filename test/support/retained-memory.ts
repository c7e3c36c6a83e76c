// ArrayBuffer memory (where Buffers live) after full collections: what a test's process still
// holds, for tests that bound what the gateway keeps for a client. The flag is set at load, so
// `gc` is there for any file that imports this.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export const MiB = 1024 * 1024;

export function retainedArrayBuffers(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}
