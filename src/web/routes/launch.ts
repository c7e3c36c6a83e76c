// Launching: a single-use ticket for a secret through a launcher, with the ssh command
// (and known_hosts lines) or the .rdp file that uses it.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Core } from '../../core/core.js';
import { badRequest } from '../../core/errors.js';
import type { DisplayRequest } from '../../core/launch/service.js';
import { buildRdpFile, RDP_FILE_CONTENT_TYPE, rdpFileName } from '../../protocols/rdp/rdp-file.js';
import { api, type LaunchResponse } from '../contract/index.js';
import { addRoute } from '../contract-route.js';

/** The display settings of a launch request, when it gives any (the core checks them). */
function displayOf(b: { width?: number; height?: number; dpi?: number; keyboardLayout?: string }): { display?: DisplayRequest } {
  const d = { ...(b.width !== undefined ? { width: b.width } : {}), ...(b.height !== undefined ? { height: b.height } : {}), ...(b.dpi !== undefined ? { dpi: b.dpi } : {}), ...(b.keyboardLayout !== undefined ? { keyboardLayout: b.keyboardLayout } : {}) };
  return Object.keys(d).length ? { display: d } : {};
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_.:@/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const launchRoutes =
  (core: Core, doors: () => { sshHostKeys: string[] }): FastifyPluginAsync =>
  async (app) => {
    /** The host handed out when the launcher names none: publicUrl (setting, else config), else the Host the request came to. */
    const hostFrom = (publicUrl: string, req: FastifyRequest): string => {
      const url = publicUrl || core.config.publicUrl;
      if (url) return new URL(url).hostname;
      return (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
    };
    const gatewayHost = async (req: FastifyRequest): Promise<string> => hostFrom(await core.settings.get('publicUrl'), req);

    const { launch } = api;
    addRoute(app, launch.launch, { config: { permission: 'launch', scope: 'launch' } })(async (req) => {
      const r = await core.launching.launch(req.principal!, req.params.id, req.body.launcher, { clientIp: req.ip, requestId: req.id, bindIp: req.body.bindIp ?? false, ...(req.body.personalCredentialId ? { personalCredentialId: req.body.personalCredentialId } : {}), ...(req.body.consent !== undefined ? { consent: req.body.consent } : {}), ...(req.body.totp !== undefined ? { totp: req.body.totp } : {}), ...(req.body.accessLevel ? { accessLevel: req.body.accessLevel } : {}), ...displayOf(req.body) });
      const host = r.gateway.host || hostFrom(r.publicUrl, req);
      const out: LaunchResponse = { ticket: r.ticket, expiresAt: r.expiresAt, launcher: r.launcher, consent: r.policyConsent ? { required: true, text: r.policyConsent.text, given: r.policyConsent.given } : r.launcherConsent };
      if (r.launcher.protocol === 'ssh' || r.launcher.protocol === 'telnet') {
        const knownHosts = doors().sshHostKeys.map((k) => `[${host}]:${r.gateway.port} ${k}`);
        out.ssh = { host, port: r.gateway.port, username: r.ticket, command: `ssh -p ${r.gateway.port} ${shellQuote(r.ticket)}@${shellQuote(host)}`, knownHosts };
      }
      // Same origin: the file is fetched with the same credentials, by the ticket's owner only.
      if (r.launcher.protocol === 'rdp') out.rdpFile = `/api/v1/launch/rdp-file?ticket=${encodeURIComponent(r.ticket)}`;
      return out;
    });
    addRoute(app, launch.rdpFile)(async (req, reply) => {
      const f = await core.launching.rdpFileFor(req.principal!, req.query.ticket);
      const host = f.gateway.host || (await gatewayHost(req));
      let text: string;
      try {
        const size = f.display?.width !== undefined && f.display.height !== undefined ? { width: f.display.width, height: f.display.height } : {};
        text = buildRdpFile({ host, port: f.gateway.port, ticket: req.query.ticket, allowConnectionSharing: f.allowConnectionSharing, redirectClipboard: f.redirection.clipboard, redirectDrives: f.redirection.drives, redirectPrinters: f.redirection.printers, ...size });
      } catch (e) {
        // A Host header that is no host name (set publicUrl to fix the address handed out).
        if (e instanceof RangeError) throw badRequest(`cannot write a .rdp file for gateway host "${host.slice(0, 64)}": ${e.message}`, 'bad_gateway_host');
        throw e;
      }
      reply.header('content-type', RDP_FILE_CONTENT_TYPE);
      reply.header('content-disposition', `attachment; filename="${rdpFileName(f.secretName)}"`);
      reply.header('cache-control', 'no-store');
      return reply.code(200).send(text);
    });
  };
