// Health, settings and master-key rotation.
import type { FastifyPluginAsync } from 'fastify';
import { randomBytes } from 'node:crypto';
import { decodeMasterKey, ConfigError } from '../../config.js';
import type { Core } from '../../core/core.js';
import { badRequest } from '../../core/errors.js';
import { actorOf } from '../../core/identity/principal.js';
import { SETTINGS } from '../../core/settings.js';
import { body, str } from '../schemas.js';

const settingsBody = body({
  sessionTimeout: { type: 'integer', minimum: -1_000_000, maximum: 86400 },
  allowConnectionSharing: { type: 'boolean' },
  publicUrl: { type: 'string', maxLength: 2048 },
  lockoutThreshold: { type: 'integer', minimum: 0, maximum: 100 },
  lockoutMinutes: { type: 'integer', minimum: 1, maximum: 10080 },
  loginRateLimit: { type: 'integer', minimum: 0, maximum: 100000 },
  loginRateWindowSeconds: { type: 'integer', minimum: 1, maximum: 86400 },
  loginAuditThreshold: { type: 'integer', minimum: 0, maximum: 100000 },
  loginTokenMinutes: { type: 'integer', minimum: 5, maximum: 43200 },
  auditCheckpointSeconds: { type: 'integer', minimum: 10, maximum: 86400 },
});

export const systemRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // 200 {status:'ok'} or 503 {status:'degraded'} with the failing check: a node that cannot
    // write its database or recordings refuses every session, so it must not look healthy.
    app.get('/healthz', { config: { auth: false }, schema: { tags: ['system'], summary: 'Liveness; whether the database and the recordings directory can be written (503 when not)', security: [] } }, async (_req, reply) => {
      const h = await core.health.check();
      return reply.status(h.status === 'ok' ? 200 : 503).send({ status: h.status, version: core.version, database: core.store.kind, checks: h.checks });
    });

    app.get('/api/v1/settings', { config: { permission: 'administer' }, schema: { tags: ['system'], summary: 'Current settings with descriptions and defaults' } }, async () => {
      const values = await core.settings.all();
      return {
        values,
        definitions: Object.fromEntries(Object.entries(SETTINGS).map(([k, d]) => [k, { default: d.default, description: d.description }])),
      };
    });

    app.patch<{ Body: Record<string, unknown> }>(
      '/api/v1/settings',
      { config: { permission: 'administer', scope: 'admin' }, schema: { tags: ['system'], summary: 'Change settings', body: settingsBody } },
      async (req) => {
        const { values, changed } = await core.settings.update(req.body);
        await core.audit.record(actorOf(req.principal, req.ip), { action: 'settings.update', details: Object.fromEntries(changed.map((k) => [k, (values as Record<string, unknown>)[k]])) });
        return { values };
      },
    );

    app.post<{ Body: { newKey?: string } }>(
      '/api/v1/admin/rotate-master-key',
      {
        config: { permission: 'administer', scope: 'admin' },
        schema: {
          tags: ['system'],
          summary: 'Rewrap every data key under a new master key while serving. With GATEHOUSE_MASTER_KEY, pass the new key and set it in the environment before the next restart.',
          body: body({ newKey: str(128) }),
        },
      },
      async (req) => {
        let key: Buffer;
        if (req.body?.newKey) {
          try {
            key = decodeMasterKey(req.body.newKey, 'newKey');
          } catch (e) {
            throw badRequest((e as ConfigError).message.replace(/^invalid configuration: /, ''));
          }
        } else if (core.keyring.source === 'env') {
          throw badRequest('the master key comes from GATEHOUSE_MASTER_KEY: pass the new key as newKey, then set it in the environment before restarting', 'new_key_required');
        } else key = randomBytes(32);
        const from = core.keyring.currentId;
        const started = Date.now();
        const { rewrapped, kekId } = await core.dataKeys.rotate(key, (done) => req.log.info({ done }, 'master key rotation progress'));
        await core.audit.record(actorOf(req.principal, req.ip), { action: 'vault.rotate_master_key', details: { from, to: kekId, rewrapped, keySource: core.keyring.source } });
        return { keyId: kekId, previousKeyId: from, rewrapped, seconds: (Date.now() - started) / 1000, keySource: core.keyring.source };
      },
    );
  };
