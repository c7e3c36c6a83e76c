// Launchers: the built-in ssh, telnet and rdp launchers and the session connectors
// administrators create (what recording, timeouts and forwarding a launch gets).
import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { actorOf } from '../../core/identity/principal.js';
import type { LauncherInput } from '../../core/launch/launchers.js';
import { body, bool, idParams, nullableStr, optStr, pageOf, pageQuery, str, type PageQuery } from '../schemas.js';

const launcherProps = {
  name: str(128),
  type: { type: 'string', enum: ['session-connector'] },
  childType: { type: ['string', 'null'], enum: ['ssh', 'telnet', 'rdp', null] },
  gatewayHost: nullableStr(253),
  gatewayPort: { type: ['integer', 'null'], minimum: 1, maximum: 65535 },
  active: bool,
  record: bool,
  recordKeystrokes: bool,
  idleTimeoutSeconds: { type: 'integer', minimum: 0, maximum: 604800 },
  maxDurationSeconds: { type: 'integer', minimum: 0, maximum: 604800 },
  allowPortForwarding: bool,
  options: {
    type: 'object',
    additionalProperties: false,
    properties: { consentText: optStr(4000), telnetLoginPrompt: optStr(256), telnetPasswordPrompt: optStr(256), telnetFailurePattern: optStr(256), rdpClipboard: bool, rdpDrives: bool, rdpPrinters: bool },
  },
};

export const launcherRoutes =
  (core: Core): FastifyPluginAsync =>
  async (app) => {
    // ---- launchers
    app.get<{ Querystring: PageQuery }>(
      '/launchers',
      { schema: { tags: ['launchers'], summary: 'Launcher types: built-in ssh, telnet, rdp and session connector launchers', querystring: pageQuery() } },
      async (req) => pageOf(await core.launchers.list(), req.query),
    );
    app.get<{ Params: { id: string } }>('/launchers/:id', { schema: { tags: ['launchers'], params: idParams } }, async (req) => core.launchers.get(req.params.id));
    app.post<{ Body: LauncherInput & { name: string; type: 'session-connector' } }>(
      '/launchers',
      { config: { permission: 'manage_templates' }, schema: { tags: ['launchers'], summary: 'Create a session connector launcher (child launcher type + gateway address)', body: body(launcherProps, ['name', 'type', 'childType', 'gatewayHost']) } },
      async (req, reply) => reply.status(201).send(await core.launchers.create(actorOf(req.principal, req.ip), req.body)),
    );
    app.patch<{ Params: { id: string }; Body: LauncherInput }>(
      '/launchers/:id',
      { config: { permission: 'manage_templates' }, schema: { tags: ['launchers'], summary: 'Change a launcher (recording, keystrokes, timeouts, port forwarding, gateway)', params: idParams, body: body(launcherProps) } },
      async (req) => core.launchers.update(actorOf(req.principal, req.ip), req.params.id, req.body),
    );
    app.delete<{ Params: { id: string } }>('/launchers/:id', { config: { permission: 'manage_templates' }, schema: { tags: ['launchers'], params: idParams } }, async (req, reply) => {
      await core.launchers.remove(actorOf(req.principal, req.ip), req.params.id);
      return reply.status(204).send();
    });
  };
