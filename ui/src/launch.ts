// Launch helpers shared by My access and the terminal page.
import { api, ApiError } from './api';
import type { Launcher, LaunchResponse, Template } from './api-types';

/** Display settings of an RDP launch (issue 14): the desktop the target draws and the keyboard it reads. */
export interface LaunchDisplaySettings {
  width: number;
  height: number;
  dpi: number;
  keyboardLayout?: string;
}

/** `consent`: the answer to the recording a policy requires (false: declined, audited by the API; left out: not asked yet); `totp`: a code for a policy that asks for MFA step-up (components/StepUpDialog); `accessLevel`: the access level chosen for the session (issue 12); `display`: RDP launchers only. */
export const launch = (secretId: string, launcher: string, totp?: string, consent?: boolean, accessLevel?: string, display?: LaunchDisplaySettings) =>
  api.post<LaunchResponse>(`/secrets/${encodeURIComponent(secretId)}/launch`, { launcher, ...(totp ? { totp } : {}), ...(consent !== undefined ? { consent } : {}), ...(accessLevel ? { accessLevel } : {}), ...(display ?? {}) });

/**
 * A launch for a door that cannot ask (a copied ssh command, a .rdp file) when the secret's
 * access policy requires consent to recording: the portal asks here, before the ticket is
 * used. RDP launches are refused without consent (consent_required, the text in the
 * message); an SSH launch says so in its answer (consent.given false): then the person is
 * asked, and a "no" declines (voids, audited) the ticket. Null: the person declined.
 */
export async function launchForDoor(secretId: string, launcher: string, totp?: string, accessLevel?: string, display?: LaunchDisplaySettings): Promise<LaunchResponse | null> {
  try {
    const r = await launch(secretId, launcher, totp, undefined, accessLevel, display);
    if (r.consent.given !== false) return r;
    // Agreed: a consented ticket replaces this one, which is never shown and expires unused.
    if (window.confirm(`${r.consent.text}\n\nAgree to the recording?`)) return launch(secretId, launcher, totp, true, accessLevel, display);
    await api.post('/tickets/decline', { ticket: r.ticket }).catch(() => undefined);
    return null;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'consent_required') throw e;
    if (window.confirm(`${e.message}\n\nAgree to the recording?`)) return launch(secretId, launcher, totp, true, accessLevel, display);
    // No ticket exists yet (RDP): the declining launch is what audits the refusal (403 consent_declined).
    await launch(secretId, launcher, totp, false, undefined, display).catch(() => undefined);
    return null;
  }
}

/** The active launchers a template maps to (the template lists launcher ids or names). */
export function launchersFor(template: Template | undefined, launchers: Launcher[]): Launcher[] {
  if (!template) return [];
  const out: Launcher[] = [];
  for (const ref of template.launchers) {
    const l = launchers.find((x) => x.id === ref) ?? launchers.find((x) => x.name === ref);
    if (l && l.active && !out.includes(l)) out.push(l);
  }
  return out;
}

let rdpProbe: Promise<boolean> | null = null;
/** Whether this server hands out .rdp files yet (the RDP door publishes an rdp route in its OpenAPI document). */
export function rdpAvailable(): Promise<boolean> {
  rdpProbe ??= fetch('/api/openapi.json', { credentials: 'same-origin' })
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then((doc: { paths?: Record<string, unknown> }) => Object.keys(doc.paths ?? {}).some((p) => /rdp/i.test(p)))
    .catch(() => false);
  return rdpProbe;
}

export function downloadUrl(url: string, filename?: string): void {
  const a = document.createElement('a');
  a.href = url;
  // An empty download attribute keeps the server's file name (Content-Disposition).
  a.download = filename ?? '';
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}
