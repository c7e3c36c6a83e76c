// Health, settings and master-key rotation.
import type { FastifyPluginAsync } from 'fastify';
import { randomBytes } from 'node:crypto';
import { decodeMasterKey, ConfigError } from '../../config.js';
import type { Core } from '../../core/core.js';
import { badRequest } from '../../core/errors.js';
import { actorOf } from '../../core/identity/principal.js';
import { SETTINGS } from '../../core/settings.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

const { system } = api;

export const systemRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // 200 {status:'ok'} or 503 {status:'degraded'} with the failing check (or 503 'draining'): a node that cannot
    // write its database or recordings refuses every session, so it must not look healthy.
    addRoute(app, system.health, { config: { auth: false } })(async (_req, reply) => {
      const h = await core.health.check();
      // A draining node (SIGTERM) answers 503 "draining", so load balancers send new connections elsewhere.
      const status = core.launching.draining ? 'draining' : h.status;
      return reply.code(status === 'ok' ? 200 : 503).send({ status, version: core.version, database: core.store.kind, checks: h.checks });
    });

    addRoute(app, system.settings, { config: { permission: 'administer' } })(async () => {
      const values = await core.settings.all();
      return {
        values,
        definitions: Object.fromEntries(Object.entries(SETTINGS).map(([k, d]) => [k, { default: d.default, description: d.description }])) as { [K in keyof typeof SETTINGS]: { default: string | number | boolean; description: string } },
      };
    });

    addRoute(app, system.updateSettings, { config: { permission: 'administer', scope: 'admin' } })(async (req) => {
      const { values, changed } = await core.settings.update(req.body);
      await core.audit.record(actorOf(req.principal, req.ip), { action: 'settings.update', details: Object.fromEntries(changed.map((k) => [k, (values as Record<string, unknown>)[k]])) });
      return { values };
    });

    addRoute(app, system.rotateMasterKey, { config: { permission: 'administer', scope: 'admin' } })(async (req) => {
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
    });
  };
