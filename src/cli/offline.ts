// Commands that work on the data directory/database directly, without a running server.
import { loadConfig } from '../config.js';
import { bootstrapAdmin, createCore, type Core } from '../core/core.js';
import { createLogger } from '../log.js';
import { migrate, openStore } from '../store/db.js';

export async function withCore<T>(fn: (core: Core) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = openStore(config);
  try {
    await migrate(store.db);
    const core = await createCore(config, store, createLogger({ level: 'warn', stream: process.stderr }));
    return await fn(core);
  } finally {
    await store.close();
  }
}

export { bootstrapAdmin };
