import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { anchorsFrom, PinningError, type ExportedCheckpoint } from '../../core/audit/pinning.js';
import { badRequest } from '../../core/errors.js';
import { verifyRecordings } from '../../core/sessions/recording-seals.js';
import { body, optStr, pageQuery, str, type PageQuery } from '../schemas.js';

const auditCfg = { permission: 'audit', scope: 'audit' } as const;

const checkpointSchema = body(
  {
    format: { type: 'string', const: 'gatehouse-audit-checkpoint/1' },
    seq: { type: 'integer', minimum: 1 },
    hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    ts: str(64),
    keyId: str(64),
    fingerprint: { type: ['string', 'null'], maxLength: 128 },
    signature: str(256),
  },
  ['seq', 'hash', 'ts', 'keyId', 'signature'],
);

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

    app.get(
      '/audit/verify',
      { config: auditCfg, schema: { tags: ['audit'], summary: 'Recompute the hash chain and check the signed checkpoints against the pinned keys and anchors: {ok, count, brokenAt?, reason?, unsigned, …}' } },
      async () => core.audit.verify(),
    );

    // The same, with further anchors: checkpoints exported earlier (`gatehouse audit checkpoint export`) and kept elsewhere.
    app.post<{ Body: { anchors: ExportedCheckpoint[] } }>(
      '/audit/verify',
      {
        config: auditCfg,
        schema: { tags: ['audit'], summary: 'Verify as GET /audit/verify does, and that the chain still holds these exported checkpoints', body: body({ anchors: { type: 'array', minItems: 1, maxItems: 100, items: checkpointSchema } }, ['anchors']) },
      },
      async (req) => {
        try {
          return await core.audit.verify({ anchors: anchorsFrom(req.body.anchors, 'the given anchor') });
        } catch (e) {
          if (e instanceof PinningError) throw badRequest(e.message);
          throw e;
        }
      },
    );

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

    app.get(
      '/audit/checkpoint',
      { config: auditCfg, schema: { tags: ['audit'], summary: 'The newest checkpoint a pinned key signed, in the export format (keep it elsewhere as an anchor); null before the first' } },
      async () => ({ checkpoint: await core.audit.latestCheckpoint() }),
    );

    // Lives here rather than with the recording routes: it is a check against the audit chain.
    app.post<{ Body: { sessions?: string[]; sha256?: string; all?: boolean } }>(
      '/recordings/verify',
      {
        config: auditCfg,
        schema: {
          tags: ['recordings'],
          summary: "Re-hash recording files against their recording.seal audit events: each is ok, differs, missing, unsealed or live; with the audit chain's own verification",
          body: body({ sessions: { type: 'array', minItems: 1, maxItems: 500, items: str(128) }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, all: { type: 'boolean' } }),
        },
      },
      async (req) => {
        const { sessions, sha256, all } = req.body ?? {};
        if (!sessions && !sha256 && !all) throw badRequest('give sessions, sha256 or all');
        const items = await verifyRecordings(core.store, core.sessions.recordingsDir, { ...(sessions ? { sessionIds: sessions } : {}), ...(sha256 ? { sha256 } : {}), ...(all ? { all } : {}) });
        return { chain: await core.audit.verify(), items };
      },
    );

    app.post('/audit/checkpoint', { config: auditCfg, schema: { tags: ['audit'], summary: 'Sign the current chain head now', body: body({}) } }, async () => ({ checkpoint: await core.audit.checkpoint() }));
  };
