// Who this node is to an authenticator: the relying party id keys are bound to and the origin
// browsers must report. Both come from settings (webauthnRpId, publicUrl; docs/identity.md),
// read at each use so a change applies at once. Browsers refuse an IP address as an RP id,
// so a node reached by address only is told to set a host name instead of failing later in
// the browser with a less clear error.
import { isIP } from 'node:net';
import { AppError } from '../../errors.js';
import type { SettingsService } from '../../settings.js';

export interface RelyingParty {
  /** The RP id (a host name). */
  id: string;
  /** The origin assertions must come from (scheme, host and port of the portal). */
  origin: string;
  name: string;
}

export const RP_NAME = 'Gatehouse';

/** `baseUrl`: the URL people reach this node by when the publicUrl setting is empty (GATEHOUSE_PUBLIC_URL or https://<host>:<port>). */
export async function relyingParty(settings: SettingsService, baseUrl: () => string): Promise<RelyingParty> {
  const url = new URL((await settings.get('publicUrl')) || baseUrl());
  const configured = await settings.get('webauthnRpId');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const id = configured || host;
  if (isIP(id)) {
    throw new AppError(409, 'webauthn_not_configured', `security keys need a host name, not an address: set the publicUrl setting to the https URL people reach the portal by (now ${url.origin}), or the webauthnRpId setting`);
  }
  if (host !== id && !host.endsWith(`.${id}`)) {
    throw new AppError(409, 'webauthn_not_configured', `the webauthnRpId setting (${id}) must be the host of publicUrl (${host}) or a parent domain of it`);
  }
  return { id, origin: url.origin, name: RP_NAME };
}
