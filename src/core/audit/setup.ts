// Builds the audit service for a data dir: loads (or makes) the signing key, pins its public
// half next to it, and wires the pinned keys, the anchor file and the checkpoint interval.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../../config.js';
import type { Store } from '../../store/db.js';
import type { SettingsService } from '../settings.js';
import { ANCHOR_FILE, loadPinnedKeys, PinningError, pinSigningKey, PINNED_KEYS_FILE } from './pinning.js';
import { AuditService } from './service.js';
import { AuditSigner, fingerprintOf, publicKeyLine } from './signer.js';

export function createAudit(config: Config, store: Store, settings: SettingsService, log: Logger): AuditService {
  const signer = AuditSigner.load(config.dataDir);
  const pin = pinSigningKey(config.dataDir, signer);
  const pinnedKeys = () => loadPinnedKeys(config.dataDir, config.auditPublicKey);
  try {
    const keys = pinnedKeys();
    if (config.auditPublicKey && !keys?.keys.includes(signer.publicKeyPem)) {
      log.warn({ keyId: signer.keyId, fingerprint: fingerprintOf(signer.publicKeyPem) }, 'GATEHOUSE_AUDIT_PUBLIC_KEY does not include this node\'s audit signing key: its checkpoints will not verify');
    }
  } catch (e) {
    if (e instanceof PinningError && config.auditPublicKey) throw new ConfigError('GATEHOUSE_AUDIT_PUBLIC_KEY', e.message.replace(/^GATEHOUSE_AUDIT_PUBLIC_KEY: /, ''));
    throw e;
  }
  const file = join(config.dataDir, PINNED_KEYS_FILE);
  const fp = fingerprintOf(signer.publicKeyPem);
  const announcement =
    pin === 'created'
      ? `gatehouse: audit signing key created: fingerprint ${fp}, public key ${publicKeyLine(signer.publicKeyPem)} (pinned in ${file}; keep a copy elsewhere to verify the audit trail independently)`
      : pin === 'added'
        ? `gatehouse: new audit signing key ${fp} pinned in ${file} next to the earlier ones (keep a copy elsewhere)`
        : null;
  return new AuditService(store, signer, {
    pinnedKeys,
    anchorFile: join(config.dataDir, ANCHOR_FILE),
    checkpointSeconds: () => settings.get('auditCheckpointSeconds'),
    log,
    announcement,
  });
}
