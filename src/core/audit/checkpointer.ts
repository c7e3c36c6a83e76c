// Signs the chain head every auditCheckpointSeconds. The setting is re-read every few
// seconds (not only when the timer was armed), so a shorter interval takes effect at once
// and verification, which expects a checkpoint within that interval, never sees a late one.
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
    if (!stopped) arm(secs);
  };
  const arm = (secs: number) => {
    timer = setTimeout(() => void tick(), Math.min(POLL_MS, secs * 1000));
    timer.unref();
  };
  arm(POLL_MS / 1000);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
