// This gateway node's name in a database several nodes may share: a random id made at first
// start and kept in the data dir (which is each node's own). Sessions carry it, so that a
// node restarting after a crash recovers its own interrupted sessions and no other node's.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VALID = /^[A-Za-z0-9_-]{8,64}$/;

export function loadNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  let id: string;
  try {
    id = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    id = randomUUID();
    try {
      writeFileSync(file, id + '\n', { mode: 0o600, flag: 'wx' });
    } catch (w) {
      // Another process starting on the same data dir made it a moment ago: theirs counts.
      if ((w as NodeJS.ErrnoException).code !== 'EEXIST') throw w;
      id = readFileSync(file, 'utf8').trim();
    }
  }
  if (!VALID.test(id)) throw new Error(`${file} does not hold a node id (8 to 64 letters, digits, - or _); remove it to make a new one`);
  return id;
}
