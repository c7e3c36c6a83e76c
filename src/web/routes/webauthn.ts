// WebAuthn passkeys and security keys: the caller's own keys, sign-in and step-up challenges,
// the passwordless browser sign-in, and the administrators' view and reset of a user's keys.
// The ceremonies are core.webauthn's (core/identity/webauthn); sign-ins and step-ups are
// checked and audited by core.auth and core.stepUp, next to TOTP.
import type { FastifyPluginAsync } from 'fastify';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Core } from '../../core/core.js';
import { AppError, forbidden } from '../../core/errors.js';
import { actorOf, type Principal } from '../../core/identity/principal.js';
import { pageOf } from '../paging.js';
import { api } from '../contract/index.js';
import { addRoute, fullRights, noContent } from '../contract-route.js';
import { setSessionCookies } from '../cookies.js';

const admin = { config: { permission: 'administer', scope: 'admin' } } as const;

export const webauthnRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const { webauthn } = api;
    // Application accounts sign in with API tokens or client credentials only: no keys.
    const person = (req: { principal: Principal | null }): string => {
      if (req.principal!.isApplication) throw forbidden('application accounts cannot have security keys or passkeys: they use API tokens or client credentials');
      return req.principal!.userId;
    };
    const self = (req: { principal: Principal | null; ip: string }) => ({ ...actorOf(req.principal, req.ip), id: person(req) });

    addRoute(app, webauthn.signInOptions, { config: { auth: false } })(async (req) => {
      const { username, password } = req.body;
      if (username === undefined && password === undefined) {
        // Passwordless: the challenge is for any passkey, so it is handed out only when allowed.
        if (!(await core.settings.get('webauthnPasswordless'))) throw new AppError(403, 'passwordless_disabled', 'passwordless sign-in is turned off: sign in with your password');
        return core.webauthn.assertionOptions('passwordless', null);
      }
      if (username === undefined || password === undefined) throw new AppError(400, 'invalid_request', 'give both username and password (a second factor), or neither (a passwordless sign-in)');
      // The password is checked (limits, lockout, audit) before any key of the account is named.
      const user = await core.auth.authenticate({ username, password }, req.ip, 'web', 'password');
      return core.webauthn.assertionOptions('sign-in', user.id);
    });

    addRoute(app, webauthn.passwordlessSignIn, { config: { auth: false } })(async (req, reply) => {
      const user = await core.auth.signInWithPasskey(req.body, req.ip, 'web');
      const minutes = await core.settings.get('loginTokenMinutes');
      const { token, expiresAt } = await core.auth.issueToken(user.id, { name: 'browser (passkey)', kind: 'session', scopes: null, ttlSeconds: minutes * 60 });
      const csrfToken = setSessionCookies(reply, token, expiresAt);
      return { user: await core.dir.viewUser(user), csrfToken, expiresAt };
    });

    addRoute(app, webauthn.listMine)(async (req) => pageOf(await core.webauthn.list(person(req)), req.query));
    addRoute(app, webauthn.registerOptions, fullRights)(async (req) => core.webauthn.registrationOptions(person(req)));
    addRoute(app, webauthn.register, fullRights)(async (req, reply) =>
      reply.code(201).send(await core.webauthn.register(self(req), { challengeId: req.body.challengeId, name: req.body.name, response: req.body.response as RegistrationResponseJSON })),
    );
    addRoute(app, webauthn.removeMine)((req, reply) => noContent(reply, core.webauthn.remove(self(req), req.params.id)));

    addRoute(app, webauthn.stepUpOptions, { config: { scope: 'launch' } })(async (req) => core.webauthn.assertionOptions('step-up', person(req)));
    // The time goes on the token used for this call (browser session or API token), as for a code.
    addRoute(app, webauthn.stepUp, { config: { scope: 'launch' } })(async (req) => {
      const p = req.principal!;
      const { verifiedAt } = await core.stepUp.verify({ userId: person(req), key: p.tokenId }, req.body, req.ip, 'api');
      return { verifiedAt: new Date(verifiedAt).toISOString() };
    });

    addRoute(app, webauthn.listUser, admin)(async (req) => {
      await core.dir.userRow(req.params.id);
      return pageOf(await core.webauthn.list(req.params.id), req.query);
    });
    addRoute(app, webauthn.resetUser, admin)(async (req) => ({ removed: await core.webauthn.reset(actorOf(req.principal, req.ip), req.params.id) }));
  };
