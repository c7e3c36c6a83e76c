// Keys: the target host key pinned per secret (trust on first use), and the caller's SSH
// public keys for logging in at the SSH door.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { body, idParams, pageOf, pageQuery, str, type PageQuery } from '../schemas.js';

export const keyRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // ---- host keys pinned per secret
    app.get<{ Params: { id: string } }>('/secrets/:id/host-key', { schema: { tags: ['secrets'], summary: "The target host key pinned for this secret (trust on first use)", params: idParams } }, async (req) => {
      await core.secrets.require(req.principal!, req.params.id, 'view');
      return { hostKey: (await core.sessions.hostKey(req.params.id)) ?? null };
    });
    app.delete<{ Params: { id: string } }>('/secrets/:id/host-key', { schema: { tags: ['secrets'], summary: 'Forget the pinned host key after a legitimate change (needs edit)', params: idParams } }, async (req, reply) => {
      await core.secrets.require(req.principal!, req.params.id, 'edit');
      await core.sessions.resetHostKey(actorOf(req.principal, req.ip), req.params.id);
      return reply.status(204).send();
    });

    // ---- the caller's SSH public keys (for `ssh user:secret@gatehouse`)
    app.get<{ Querystring: PageQuery }>('/me/ssh-keys', { schema: { tags: ['auth'], summary: 'Your registered SSH public keys', querystring: pageQuery() } }, async (req) => pageOf(await core.sshKeys.list(req.principal!.userId), req.query));
    app.post<{ Body: { name: string; publicKey: string } }>(
      '/me/ssh-keys',
      { schema: { tags: ['auth'], summary: 'Register an SSH public key for logging in at the SSH door as <user>:<secret>', body: body({ name: str(100), publicKey: str(16384) }, ['name', 'publicKey']) } },
      async (req, reply) => reply.status(201).send(await core.sshKeys.add({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body)),
    );
    app.delete<{ Params: { id: string } }>('/me/ssh-keys/:id', { schema: { tags: ['auth'], params: idParams } }, async (req, reply) => {
      await core.sshKeys.remove({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.params.id);
      return reply.status(204).send();
    });
  };
