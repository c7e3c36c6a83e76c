// Keys: the target host key pinned per secret (trust on first use), and the caller's SSH
// public keys for logging in at the SSH door.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { pageOf } from '../paging.js';
import { api } from '../contract/index.js';
import { addRoute, fullRights, noContent } from '../contract-route.js';

export const keyRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { hostKeys, sshKeys } = api;
    // ---- host keys pinned per secret
    addRoute(app, hostKeys.get)(async (req) => {
      await core.secrets.require(req.principal!, req.params.id, 'view');
      return { hostKey: (await core.sessions.hostKey(req.params.id)) ?? null };
    });
    addRoute(app, hostKeys.reset)(async (req, reply) => {
      await core.secrets.require(req.principal!, req.params.id, 'edit');
      await core.sessions.resetHostKey(actorOf(req.principal, req.ip), req.params.id);
      return reply.code(204).send();
    });

    // ---- the caller's SSH public keys (for `ssh user:secret@gatehouse`)
    addRoute(app, sshKeys.list)(async (req) => pageOf(await core.sshKeys.list(req.principal!.userId), req.query));
    addRoute(app, sshKeys.add, fullRights)(async (req, reply) => reply.code(201).send(await core.sshKeys.add({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body)));
    addRoute(app, sshKeys.remove)((req, reply) => noContent(reply, core.sshKeys.remove({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.params.id)));
  };
