// Launch helpers shared by My access and the terminal page.
import { api } from './api';
import type { Launcher, LaunchResponse, Template } from './api-types';

/** `totp`: a code for a secret whose access policy asks for MFA step-up (components/StepUpDialog). */
export const launch = (secretId: string, launcher: string, totp?: string) => api.post<LaunchResponse>(`/secrets/${encodeURIComponent(secretId)}/launch`, { launcher, ...(totp ? { totp } : {}) });

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
