// A sessions row as a door's start writes one, for tests that put sessions in the database by
// hand (recovery, other nodes' sessions): live, nothing counted, no recording sealed yet.
import { randomUUID } from 'node:crypto';
import type { SessionsTable } from '../../src/store/schema.js';

export function sessionRow(extra: Partial<SessionsTable> & Pick<SessionsTable, 'userId' | 'username'>): SessionsTable {
  return {
    id: randomUUID(),
    secretId: 'secret-1',
    secretName: 'box',
    launcherId: 'ssh',
    protocol: 'ssh',
    targetHost: '127.0.0.1',
    targetPort: 22,
    targetUser: 'ghtarget',
    clientIp: '127.0.0.9',
    door: 'ssh',
    status: 'live',
    startedAt: Date.now(),
    endedAt: null,
    endReason: null,
    bytesIn: 0,
    bytesOut: 0,
    recording: null,
    recordingSha256: null,
    recordKeystrokes: 1,
    node: null,
    recordingFormat: null,
    ...extra,
  };
}
