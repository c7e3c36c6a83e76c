import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/core.js';
import { accessRoutes } from './access.js';
import { auditRoutes } from './audit.js';
import { authRoutes } from './auth.js';
import { directoryRoutes } from './directory.js';
import { systemRoutes } from './system.js';
import { vaultRoutes } from './vault.js';
import { checkoutRoutes } from './checkout.js';
import { keyRoutes } from './keys.js';
import { launchRoutes } from './launch.js';
import { launcherRoutes } from './launchers.js';
import { liveViewRoutes } from './live-view.js';
import { recordingRoutes } from './recordings.js';
import { sessionRoutes } from './sessions.js';
import { terminalRoutes } from './terminal.js';
import { personalRoutes } from './personal.js';
import { webservicesRoutes } from './webservices.js';
import type { WebTerminalDoor } from '../../protocols/web-terminal.js';
import { openpsmRoutes } from './openpsm.js';
import { logonTicketRoutes } from './logon-tickets.js';
import { rdpWebRoutes } from './rdp-web.js';
import type { WebRdpDoor } from '../../protocols/rdp-web/door.js';
import { sharingRoutes } from './sharing.js';
import { ldapDirectoryRoutes } from './ldap-directory.js';
import { oidcRoutes } from './oidc.js';
import { webauthnRoutes } from './webauthn.js';
import { auditSinkRoutes } from './audit-sinks.js';
import { retentionRoutes } from './retention.js';
import type { ClusterCalls } from './live-view.js';
import { clusterRoutes } from './cluster.js';

export interface DoorInfo {
  sshHostKeys: string[];
}

export const routes =
  (core: Core, doors: () => DoorInfo = () => ({ sshHostKeys: [] }), terminal?: WebTerminalDoor, rdpWeb?: WebRdpDoor, cluster?: ClusterCalls): FastifyPluginAsync =>
  async (app) => {
    await app.register(systemRoutes(core));
    await app.register(authRoutes(core));
    await app.register(oidcRoutes(core));
    await app.register(webauthnRoutes(core));
    await app.register(directoryRoutes(core), { prefix: '/api/v1' });
    await app.register(ldapDirectoryRoutes(core), { prefix: '/api/v1' });
    await app.register(vaultRoutes(core), { prefix: '/api/v1' });
    await app.register(checkoutRoutes(core), { prefix: '/api/v1' });
    await app.register(auditRoutes(core), { prefix: '/api/v1' });
    await app.register(auditSinkRoutes(core), { prefix: '/api/v1' });
    await app.register(launcherRoutes(core), { prefix: '/api/v1' });
    await app.register(launchRoutes(core, doors), { prefix: '/api/v1' });
    await app.register(sessionRoutes(core), { prefix: '/api/v1' });
    await app.register(liveViewRoutes(core, cluster), { prefix: '/api/v1' });
    await app.register(recordingRoutes(core), { prefix: '/api/v1' });
    await app.register(retentionRoutes(core), { prefix: '/api/v1' });
    await app.register(keyRoutes(core), { prefix: '/api/v1' });
    await app.register(terminalRoutes(core, terminal), { prefix: '/api/v1' });
    await app.register(accessRoutes(core), { prefix: '/api/v1' });
    await app.register(personalRoutes(core), { prefix: '/api/v1' });
    await app.register(webservicesRoutes(core), { prefix: '/api/v1' });
    await app.register(sharingRoutes(core, terminal), { prefix: '/api/v1' });
    await app.register(openpsmRoutes(core, terminal));
    await app.register(logonTicketRoutes(core));
    await app.register(rdpWebRoutes(core, rdpWeb), { prefix: '/api/v1' });
    await app.register(clusterRoutes(core));
  };
