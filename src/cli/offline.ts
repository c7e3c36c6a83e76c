// Commands that work on the data directory/database directly, without a running server.
import { loadConfig } from '../config.js';
import { bootstrapAdmin, createCore, type Core } from '../core/core.js';
import { createLogger } from '../log.js';
import { migrate, openStore } from '../store/db.js';

/**
 * Runs `fn` on a core over the data dir. `checkpoint`: sign the chain head afterwards, for
 * commands that write audit events (checkpoints are required, and no server may be
 * running to sign them). A signing key made just now is announced once (stdout for
 * bootstrap, where it belongs with the administrator line; stderr otherwise).
 */
export async function withCore<T>(fn: (core: Core) => Promise<T>, opts: { checkpoint?: boolean; announceOn?: 'stdout' | 'stderr' } = {}): Promise<T> {
  const config = loadConfig();
  const store = openStore(config);
  try {
    await migrate(store.db);
    const core = await createCore(config, store, createLogger({ level: 'warn', stream: process.stderr }));
    if (core.audit.keyAnnouncement) (opts.announceOn === 'stdout' ? process.stdout : process.stderr).write(core.audit.keyAnnouncement + '\n');
    const r = await fn(core);
    if (opts.checkpoint) await core.audit.checkpoint();
    return r;
  } finally {
    await store.close();
  }
}

export { bootstrapAdmin };
