// Signs the chain head every auditCheckpointSeconds. The setting is re-read every few
// seconds (not only when a timer was armed), so a shorter interval takes effect at once
// and verification, which expects a checkpoint within that interval, never waits on a
// timer armed under the old one.
import type { Logger } from 'pino';
import type { AuditService } from './service.js';

const POLL_MS = 5_000;

export function startCheckpointer(audit: AuditService, intervalSeconds: () => Promise<number>, log: Logger): { stop(): void } {
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    const secs = await intervalSeconds().catch(() => 300);
    if (stopped) return;
    if (Date.now() - last >= secs * 1000) {
      last = Date.now();
      await audit.checkpoint().catch((err) => log.error({ err: { message: (err as Error).message } }, 'audit checkpoint failed'));
    }
    if (!stopped) arm();
  };
  const arm = () => {
    timer = setTimeout(() => void tick(), POLL_MS);
    timer.unref();
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
