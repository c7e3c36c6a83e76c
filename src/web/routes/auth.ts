// Login, the caller's own account (password, TOTP), API tokens, OAuth2 client credentials.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { AppError, badRequest } from '../../core/errors.js';
import { checkPasswordPolicy, hashPassword } from '../../core/identity/passwords.js';
import { actorOf } from '../../core/identity/principal.js';
import { pageOf } from '../paging.js';
import { api } from '../contract/index.js';
import { addRoute, fullRights, noContent } from '../contract-route.js';
import { clearSessionCookies, setSessionCookies } from '../cookies.js';

export const authRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { auth } = api;
    addRoute(app, auth.login, { config: { auth: false } })(async (req) => {
      const { token, expiresAt } = await core.auth.login(req.body, req.ip);
      return { token, expiresAt };
    });

    // Browser sign-in: the same checks as /auth/login, the token goes into an HttpOnly cookie.
    addRoute(app, auth.signIn, { config: { auth: false } })(async (req, reply) => {
      // JSON only: any site can make a browser post a form here (no CORS preflight for forms),
      // and would sign the person into an account of the other site's choosing (login CSRF).
      if (/^application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? ''))) throw new AppError(415, 'unsupported_media_type', 'sign in with a JSON body (content-type: application/json)');
      const user = await core.auth.authenticate(req.body, req.ip, 'web');
      const minutes = await core.settings.get('loginTokenMinutes');
      const { token, expiresAt } = await core.auth.issueToken(user.id, { name: 'browser', kind: 'session', scopes: null, ttlSeconds: minutes * 60 });
      const csrfToken = setSessionCookies(reply, token, expiresAt);
      return { user: await core.dir.viewUser(user), csrfToken, expiresAt };
    });

    addRoute(app, auth.signOut, { config: { scope: 'read' } })(async (req, reply) => {
      await core.auth.logout(req.principal!);
      clearSessionCookies(reply);
      return reply.code(204).send();
    });

    addRoute(app, auth.logout, { config: { scope: 'read' } })((req, reply) => noContent(reply, core.auth.logout(req.principal!)));

    addRoute(app, auth.me)(async (req) => {
      const p = req.principal!;
      const view = await core.dir.viewUser(await core.dir.userRow(p.userId));
      return { ...view, permissions: [...p.permissions].sort(), scopes: p.scopes ? [...p.scopes] : null };
    });

    addRoute(app, auth.changePassword)(async (req, reply) => {
      const p = req.principal!;
      const user = await core.dir.userRow(p.userId);
      if (!(await core.auth.checkOwnPassword(user, req.body.currentPassword, req.ip, 'password change'))) throw new AppError(403, 'invalid_credentials', 'current password is wrong');
      checkPasswordPolicy(req.body.newPassword);
      await core.store.db.updateTable('users').set({ passwordHash: await hashPassword(req.body.newPassword), updatedAt: Date.now() }).where('id', '=', p.userId).execute();
      await core.store.db.deleteFrom('apiTokens').where('userId', '=', p.userId).where('kind', '=', 'session').where('id', '!=', p.tokenId).execute();
      await core.audit.record(actorOf(p, req.ip), { action: 'user.password_change', target: { type: 'user', id: p.userId } });
      return reply.code(204).send();
    });

    addRoute(app, auth.beginTotp, fullRights)(async (req) => core.auth.beginTotp({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }));

    addRoute(app, auth.confirmTotp, fullRights)(async (req) => core.auth.confirmTotp({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body.code));

    // The time goes on the token used for this call (browser session or API token).
    addRoute(app, auth.stepUp, { config: { scope: 'launch' } })(async (req) => {
      const p = req.principal!;
      const { verifiedAt } = await core.stepUp.verify({ userId: p.userId, key: p.tokenId }, req.body.code, req.ip, 'api');
      return { verifiedAt: new Date(verifiedAt).toISOString() };
    });

    addRoute(app, auth.disableTotp)(async (req, reply) => {
      const user = await core.dir.userRow(req.principal!.userId);
      if (!(await core.auth.checkOwnPassword(user, req.body.password, req.ip, 'turn off TOTP'))) throw new AppError(403, 'invalid_credentials', 'password is wrong');
      await core.auth.disableTotp(actorOf(req.principal, req.ip), user.id);
      return reply.code(204).send();
    });

    addRoute(app, auth.listTokens)(async (req) => pageOf(await core.auth.listTokens(req.principal!.userId), req.query));

    addRoute(app, auth.createToken, fullRights)(async (req, reply) => reply.code(201).send(await core.auth.createApiToken({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body)));

    addRoute(app, auth.revokeToken)((req, reply) => noContent(reply, core.auth.revokeToken({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.params.id)));

    // RFC 6749 section 4.4. Credentials in the body or as HTTP Basic.
    addRoute(app, auth.oauthToken, { config: { auth: false } })(async (req, reply) => {
      if (req.body.grant_type !== 'client_credentials') throw new AppError(400, 'unsupported_grant_type', 'only grant_type=client_credentials is supported');
      let id = req.body.client_id;
      let secret = req.body.client_secret;
      const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (basic) {
        const [u, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
        try {
          id = decodeURIComponent(u ?? '');
          secret = decodeURIComponent(rest.join(':'));
          if ((id + secret).includes('\u0000')) throw new Error('NUL');
        } catch {
          throw badRequest('HTTP Basic credentials are not valid percent-encoding', 'invalid_client');
        }
      }
      if (!id || !secret) throw badRequest('client_id and client_secret are required', 'invalid_client');
      const out = await core.auth.clientCredentialsGrant(id, secret, req.body.scope, req.ip);
      return reply.header('cache-control', 'no-store').code(200).send(out);
    });
  };
