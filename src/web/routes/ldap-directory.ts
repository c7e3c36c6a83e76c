// The LDAP / Active Directory directory over HTTP (contract: contract/ldap-directory.ts; rules:
// core/identity/directory-ldap): settings, a connection test and a sync on demand. Administrators only.
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import { api } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

const admin = { config: { permission: 'administer', scope: 'admin' } } as const;

export const ldapDirectoryRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    const l = api.ldapDirectory;
    addRoute(app, l.get, admin)(async () => core.ldap.status());
    addRoute(app, l.update, admin)(async (req) => core.ldap.save(req.principal!, req.body));
    addRoute(app, l.test, admin)(async (req) => core.ldap.test(actorOf(req.principal, req.ip)));
    addRoute(app, l.sync, admin)(async (req) => core.ldap.sync(actorOf(req.principal, req.ip)));
  };
