// Login, the caller's own account (password, TOTP), API tokens, OAuth2 client credentials.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { AppError, badRequest } from '../../core/errors.js';
import { checkPasswordPolicy, hashPassword } from '../../core/identity/passwords.js';
import { actorOf } from '../../core/identity/principal.js';
import { SCOPE_NAMES } from '../../core/identity/permissions.js';
import { body, idParams, pageOf, pageQuery, str, type PageQuery } from '../schemas.js';
import { clearSessionCookies, setSessionCookies } from '../cookies.js';

export const authRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: { username: string; password: string; totp?: string } }>(
      '/api/v1/auth/login',
      {
        config: { auth: false },
        schema: {
          tags: ['auth'],
          summary: 'Log in with username, password and (when enrolled) a TOTP or recovery code',
          security: [],
          body: body({ username: str(64), password: str(1024), totp: str(32) }, ['username', 'password']),
        },
      },
      async (req) => {
        const { token, expiresAt } = await core.auth.login(req.body, req.ip);
        return { token, expiresAt };
      },
    );

    // Browser sign-in: the same checks as /auth/login, the token goes into an HttpOnly cookie.
    app.post<{ Body: { username: string; password: string; totp?: string } }>(
      '/api/v1/auth/session',
      {
        config: { auth: false },
        schema: {
          tags: ['auth'],
          summary: 'Browser sign-in: sets an HttpOnly session cookie and returns the CSRF token to send as X-CSRF-Token',
          security: [],
          body: body({ username: str(64), password: str(1024), totp: str(32) }, ['username', 'password']),
        },
      },
      async (req, reply) => {
        const user = await core.auth.authenticate(req.body, req.ip, 'web');
        const minutes = await core.settings.get('loginTokenMinutes');
        const { token, expiresAt } = await core.auth.issueToken(user.id, { name: 'browser', kind: 'session', scopes: null, ttlSeconds: minutes * 60 });
        const csrfToken = setSessionCookies(reply, token, expiresAt);
        return { user: await core.dir.viewUser(user), csrfToken, expiresAt };
      },
    );

    app.delete('/api/v1/auth/session', { config: { scope: 'read' }, schema: { tags: ['auth'], summary: 'Browser sign-out: revokes the session and clears the cookies' } }, async (req, reply) => {
      await core.auth.logout(req.principal!);
      clearSessionCookies(reply);
      return reply.status(204).send();
    });

    app.post('/api/v1/auth/logout', { schema: { tags: ['auth'], summary: 'Revoke the token used for this call' }, config: { scope: 'read' } }, async (req, reply) => {
      await core.auth.logout(req.principal!);
      return reply.status(204).send();
    });

    app.get('/api/v1/me', { schema: { tags: ['auth'], summary: 'The calling user, with roles, groups and effective permissions' } }, async (req) => {
      const p = req.principal!;
      const view = await core.dir.viewUser(await core.dir.userRow(p.userId));
      return { ...view, permissions: [...p.permissions].sort(), scopes: p.scopes ? [...p.scopes] : null };
    });

    app.post<{ Body: { currentPassword: string; newPassword: string } }>(
      '/api/v1/me/password',
      { schema: { tags: ['auth'], summary: 'Change your own password', body: body({ currentPassword: str(1024), newPassword: str(1024) }, ['currentPassword', 'newPassword']) } },
      async (req, reply) => {
        const p = req.principal!;
        const user = await core.dir.userRow(p.userId);
        if (!(await core.auth.checkOwnPassword(user, req.body.currentPassword, req.ip, 'password change'))) throw new AppError(403, 'invalid_credentials', 'current password is wrong');
        checkPasswordPolicy(req.body.newPassword);
        await core.store.db.updateTable('users').set({ passwordHash: await hashPassword(req.body.newPassword), updatedAt: Date.now() }).where('id', '=', p.userId).execute();
        await core.store.db.deleteFrom('apiTokens').where('userId', '=', p.userId).where('kind', '=', 'session').where('id', '!=', p.tokenId).execute();
        await core.audit.record(actorOf(p, req.ip), { action: 'user.password_change', target: { type: 'user', id: p.userId } });
        return reply.status(204).send();
      },
    );

    app.post('/api/v1/me/totp', { schema: { tags: ['auth'], summary: 'Start TOTP enrolment: returns the seed and an otpauth:// URL (shown once)' } }, async (req) => core.auth.beginTotp({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }));

    app.post<{ Body: { code: string } }>(
      '/api/v1/me/totp/confirm',
      { schema: { tags: ['auth'], summary: 'Finish TOTP enrolment with a current code; returns ten single-use recovery codes', body: body({ code: str(16, { pattern: '^[0-9]{6}$' }) }, ['code']) } },
      async (req) => core.auth.confirmTotp({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body.code),
    );

    app.post<{ Body: { password: string } }>(
      '/api/v1/me/totp/disable',
      { schema: { tags: ['auth'], summary: 'Turn your own TOTP off (needs your password)', body: body({ password: str(1024) }, ['password']) } },
      async (req, reply) => {
        const user = await core.dir.userRow(req.principal!.userId);
        if (!(await core.auth.checkOwnPassword(user, req.body.password, req.ip, 'turn off TOTP'))) throw new AppError(403, 'invalid_credentials', 'password is wrong');
        await core.auth.disableTotp(actorOf(req.principal, req.ip), user.id);
        return reply.status(204).send();
      },
    );

    app.get<{ Querystring: PageQuery }>('/api/v1/tokens', { schema: { tags: ['auth'], summary: 'Your unexpired tokens (never their values)', querystring: pageQuery() } }, async (req) => pageOf(await core.auth.listTokens(req.principal!.userId), req.query));

    app.post<{ Body: { name: string; scopes: string[]; expiresInDays?: number } }>(
      '/api/v1/tokens',
      {
        schema: {
          tags: ['auth'],
          summary: 'Create a scoped, expiring API token (the value is shown once, stored hashed)',
          body: body(
            {
              name: str(100),
              scopes: { type: 'array', minItems: 1, maxItems: SCOPE_NAMES.length, items: { type: 'string', enum: SCOPE_NAMES } },
              expiresInDays: { type: 'integer', minimum: 1, maximum: 3650 },
            },
            ['name', 'scopes'],
          ),
        },
      },
      async (req, reply) => reply.status(201).send(await core.auth.createApiToken({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.body)),
    );

    app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', { schema: { tags: ['auth'], summary: 'Revoke one of your tokens', params: idParams } }, async (req, reply) => {
      await core.auth.revokeToken({ ...actorOf(req.principal, req.ip), id: req.principal!.userId }, req.params.id);
      return reply.status(204).send();
    });

    // RFC 6749 section 4.4. Credentials in the body or as HTTP Basic.
    app.post<{ Body: Record<string, string> }>(
      '/oauth2/token',
      {
        config: { auth: false },
        schema: {
          tags: ['auth'],
          summary: 'OAuth2 client-credentials grant for application accounts',
          security: [],
          body: {
            type: 'object',
            properties: { grant_type: str(64), client_id: str(128), client_secret: str(256), scope: str(256) },
            required: ['grant_type'],
            additionalProperties: false,
          },
        },
      },
      async (req, reply) => {
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
        return reply.header('cache-control', 'no-store').send(out);
      },
    );
  };
