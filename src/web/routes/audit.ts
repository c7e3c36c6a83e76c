// The audit trail: events, chain verification (with anchors), signed checkpoints, the
// JSON-lines export; and recording seals, which are checked against the chain.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { anchorsFrom, PinningError } from '../../core/audit/pinning.js';
import { badRequest } from '../../core/errors.js';
import { verifyRecordings } from '../../core/sessions/recording-seals.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

const auditCfg = { config: { permission: 'audit', scope: 'audit' } } as const;

export const auditRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { audit } = api;
    addRoute(app, audit.list, auditCfg)(async (req) => {
      const t = (s?: string) => (s && !Number.isNaN(Date.parse(s)) ? Date.parse(s) : undefined);
      const { action, actorId, targetId } = req.query;
      const r = await core.audit.list({ limit: req.query.limit, offset: req.query.offset, action, actorId, targetId, since: t(req.query.since), until: t(req.query.until) });
      return { ...r, limit: req.query.limit, offset: req.query.offset };
    });

    addRoute(app, audit.verify, auditCfg)(async () => core.audit.verify());

    // The same, with further anchors: checkpoints exported earlier (`gatehouse audit checkpoint export`) and kept elsewhere.
    addRoute(app, audit.verifyWithAnchors, auditCfg)(async (req) => {
      try {
        return await core.audit.verify({ anchors: anchorsFrom(req.body.anchors, 'the given anchor') });
      } catch (e) {
        if (e instanceof PinningError) throw badRequest(e.message);
        throw e;
      }
    });

    addRoute(app, audit.export, auditCfg)(async (_req, reply) => {
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      reply.header('content-disposition', 'attachment; filename="gatehouse-audit.jsonl"');
      const gen = core.audit.all();
      const { Readable } = await import('node:stream');
      // A stream: sent as it is, not through the JSON serializer.
      return reply.send(
        Readable.from(
          (async function* () {
            for await (const e of gen) yield JSON.stringify(e) + '\n';
          })(),
        ) as never,
      );
    });

    addRoute(app, audit.publicKey, auditCfg)(async () => core.audit.publicKey);

    addRoute(app, audit.checkpoint, auditCfg)(async () => ({ checkpoint: await core.audit.latestCheckpoint() }));

    // Lives here rather than with the recording routes: it is a check against the audit chain.
    addRoute(app, audit.verifyRecordings, auditCfg)(async (req) => {
      const { sessions, sha256, all } = req.body ?? {};
      if (!sessions && !sha256 && !all) throw badRequest('give sessions, sha256 or all');
      const items = await verifyRecordings(core.store, core.sessions.storage.kind === 'local' ? core.sessions.recordingsDir : core.sessions.storage, { ...(sessions ? { sessionIds: sessions } : {}), ...(sha256 ? { sha256 } : {}), ...(all ? { all } : {}) });
      return { chain: await core.audit.verify(), items };
    });

    addRoute(app, audit.signCheckpoint, auditCfg)(async () => ({ checkpoint: await core.audit.checkpoint() }));
  };
