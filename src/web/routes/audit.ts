import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { body, optStr, pageQuery, type PageQuery } from '../schemas.js';

const auditCfg = { permission: 'audit', scope: 'audit' } as const;

export const auditRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Querystring: PageQuery & { action?: string; actorId?: string; targetId?: string; since?: string; until?: string } }>(
      '/audit',
      {
        config: auditCfg,
        schema: {
          tags: ['audit'],
          summary: 'Audit events, newest first (action accepts a trailing * wildcard)',
          querystring: pageQuery({ action: optStr(128), actorId: optStr(128), targetId: optStr(128), since: { type: 'string', maxLength: 64 }, until: { type: 'string', maxLength: 64 } }),
        },
      },
      async (req) => {
        const t = (s?: string) => (s && !Number.isNaN(Date.parse(s)) ? Date.parse(s) : undefined);
        const { action, actorId, targetId } = req.query;
        const r = await core.audit.list({ limit: req.query.limit, offset: req.query.offset, action, actorId, targetId, since: t(req.query.since), until: t(req.query.until) });
        return { ...r, limit: req.query.limit, offset: req.query.offset };
      },
    );

    app.get('/audit/verify', { config: auditCfg, schema: { tags: ['audit'], summary: 'Recompute the hash chain and check signed checkpoints: {ok, count, brokenAt?, reason?}' } }, async () => core.audit.verify());

    app.get('/audit/export', { config: auditCfg, schema: { tags: ['audit'], summary: 'Every event in chain order as JSON lines (application/x-ndjson)' } }, async (_req, reply) => {
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      reply.header('content-disposition', 'attachment; filename="gatehouse-audit.jsonl"');
      const gen = core.audit.all();
      const { Readable } = await import('node:stream');
      return reply.send(
        Readable.from(
          (async function* () {
            for await (const e of gen) yield JSON.stringify(e) + '\n';
          })(),
        ),
      );
    });

    app.get('/audit/public-key', { config: auditCfg, schema: { tags: ['audit'], summary: 'The Ed25519 key that signs chain checkpoints (pin it for offline verification)' } }, async () => core.audit.publicKey);

    app.post('/audit/checkpoint', { config: auditCfg, schema: { tags: ['audit'], summary: 'Sign the current chain head now', body: body({}) } }, async () => ({ checkpoint: await core.audit.checkpoint() }));
  };
