// The OpenPSM /start parameters (seed 003) and their validation, with the seed's exact
// messages. Pure: no I/O, so every message can be reached from a unit test as from /start.

/** A payload value is null or undefined. */
export const MISSING = 'Missing request parameters.';
/** ApiApplicationKey, LoginSessionID or CredentialID is not a GUID. */
export const INVALID = 'Invalid request parameters.';
/** The workflow's own validation failed (required parameters, dates, mode, ApiUrl). */
export const INVALID_WORKFLOW = 'Invalid Request parameters.';

export const REQUIRED = ['TargetPersonGuid', 'AccessRequestPolicyID', 'TargetComputerGuid', 'IsAdvanceMode'] as const;
export const OPTIONAL = ['CheckOutStartDate', 'CheckOutEndDate', 'ExternalCredentialGuid', 'PSM_Connection_Delay'] as const;
export const PAYLOAD = ['ComputerID', 'IsPersonalCred', 'ExternalCredentialCheckOutID', 'LoginSessionID', 'ApiUrl', 'Mode', 'ApiKey', 'CredentialID', 'ApiApplicationKey', 'GUAC_WIDTH', 'GUAC_HEIGHT', 'GUAC_DPI'] as const;
export const START_PARAMETERS = [...REQUIRED, ...OPTIONAL, ...PAYLOAD] as const;
export type StartParameter = (typeof START_PARAMETERS)[number];

export const MODES = ['RDP', 'SSH', 'Telnet'] as const;
export type Mode = (typeof MODES)[number];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (v: unknown): v is string => typeof v === 'string' && GUID.test(v);

export interface StartRequest {
  targetPersonGuid: string;
  accessRequestPolicyId: string;
  targetComputerGuid: string;
  isAdvanceMode: boolean;
  checkOutStartDate: string | null;
  checkOutEndDate: string | null;
  externalCredentialGuid: string | null;
  connectionDelaySeconds: number;
  computerId: string;
  isPersonalCred: boolean;
  externalCredentialCheckOutId: string;
  loginSessionId: string;
  /** Normalised: origin + path without a trailing slash. */
  apiUrl: string;
  mode: Mode;
  apiKey: string;
  credentialId: string;
  apiApplicationKey: string;
  display: { width: number; height: number; dpi: number };
}

export type StartCheck = { ok: true; start: StartRequest } | { ok: false; message: string; detail: string };

const bool = (v: string): boolean | null => (/^true$/i.test(v) ? true : /^false$/i.test(v) ? false : null);
const intIn = (v: string, lo: number, hi: number): number | null => (/^\d{1,6}$/.test(v) && +v >= lo && +v <= hi ? +v : null);
const date = (v: string): number | null => {
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
};

/** `https://host[:port][/path]` without a trailing slash, or null when `v` is no https URL without credentials, query or fragment. */
export function normaliseApiUrl(v: string): string | null {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return null;
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.search || u.hash) return null;
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/**
 * Checks one /start query in the seed's order: a payload value that is absent → "Missing
 * request parameters."; ApiApplicationKey, LoginSessionID or CredentialID no GUID → "Invalid
 * request parameters."; then the workflow's checks (required parameters, GUIDs, booleans,
 * dates, the mode, ApiUrl https and on the allow list) → "Invalid Request parameters.".
 * `detail` says which check failed, for the log and the audit trail (never shown).
 */
export function checkStart(q: Record<string, unknown>, allowedApiUrls: readonly string[]): StartCheck {
  const one = (k: string): string | undefined => {
    const v = q[k];
    if (Array.isArray(v)) return undefined; // a repeated parameter is ambiguous: treated as absent
    return typeof v === 'string' ? v : undefined;
  };
  for (const k of PAYLOAD) {
    const v = one(k);
    if (v === undefined || v === 'null' || v === 'undefined') return { ok: false, message: MISSING, detail: `${k} is missing` };
  }
  for (const k of ['ApiApplicationKey', 'LoginSessionID', 'CredentialID'] as const) if (!isGuid(one(k))) return { ok: false, message: INVALID, detail: `${k} is not a GUID` };
  const bad = (detail: string): StartCheck => ({ ok: false, message: INVALID_WORKFLOW, detail });
  for (const k of ['TargetPersonGuid', 'AccessRequestPolicyID', 'TargetComputerGuid'] as const) if (!isGuid(one(k))) return bad(`${k} is missing or not a GUID`);
  const advance = bool(one('IsAdvanceMode') ?? '');
  if (advance === null) return bad('IsAdvanceMode is missing or not true/false');
  const personal = bool(one('IsPersonalCred')!);
  if (personal === null) return bad('IsPersonalCred is not true/false');
  const start = one('CheckOutStartDate') || null;
  const end = one('CheckOutEndDate') || null;
  const startAt = start === null ? null : date(start);
  const endAt = end === null ? null : date(end);
  if (start !== null && startAt === null) return bad('CheckOutStartDate is not a date');
  if (end !== null && endAt === null) return bad('CheckOutEndDate is not a date');
  if (startAt !== null && endAt !== null && endAt <= startAt) return bad('CheckOutEndDate is not after CheckOutStartDate');
  const ext = one('ExternalCredentialGuid') || null;
  if (ext !== null && !isGuid(ext)) return bad('ExternalCredentialGuid is not a GUID');
  const delayText = one('PSM_Connection_Delay') || null;
  const delay = delayText === null ? 0 : intIn(delayText, 0, 600);
  if (delay === null) return bad('PSM_Connection_Delay is not a number of seconds between 0 and 600');
  const mode = MODES.find((m) => m.toLowerCase() === one('Mode')!.toLowerCase());
  if (!mode) return bad('Mode is not RDP, SSH or Telnet');
  const width = intIn(one('GUAC_WIDTH')!, 100, 10000);
  const height = intIn(one('GUAC_HEIGHT')!, 100, 10000);
  const dpi = intIn(one('GUAC_DPI')!, 50, 1000);
  if (width === null || height === null || dpi === null) return bad('GUAC_WIDTH, GUAC_HEIGHT or GUAC_DPI is not a number in range');
  const computerId = one('ComputerID')!;
  if (!computerId || computerId.length > 128) return bad('ComputerID is empty or too long');
  const checkoutId = one('ExternalCredentialCheckOutID')!;
  if (checkoutId.length > 128) return bad('ExternalCredentialCheckOutID is too long');
  const apiKey = one('ApiKey')!;
  if (!apiKey || apiKey.length > 4096 || /\s/.test(apiKey)) return bad('ApiKey is empty, too long or has spaces');
  const apiUrl = normaliseApiUrl(one('ApiUrl')!);
  if (!apiUrl) return bad('ApiUrl is not an https URL');
  if (!allowedApiUrls.includes(apiUrl)) return bad(`ApiUrl ${apiUrl} is not on the allow list (setting openpsmAllowedApiUrls)`);
  return {
    ok: true,
    start: {
      targetPersonGuid: one('TargetPersonGuid')!.toLowerCase(),
      accessRequestPolicyId: one('AccessRequestPolicyID')!.toLowerCase(),
      targetComputerGuid: one('TargetComputerGuid')!.toLowerCase(),
      isAdvanceMode: advance,
      checkOutStartDate: startAt === null ? null : new Date(startAt).toISOString(),
      checkOutEndDate: endAt === null ? null : new Date(endAt).toISOString(),
      externalCredentialGuid: ext,
      connectionDelaySeconds: delay,
      computerId,
      isPersonalCred: personal,
      externalCredentialCheckOutId: checkoutId,
      loginSessionId: one('LoginSessionID')!.toLowerCase(),
      apiUrl,
      mode,
      apiKey,
      credentialId: one('CredentialID')!.toLowerCase(),
      apiApplicationKey: one('ApiApplicationKey')!.toLowerCase(),
      display: { width, height, dpi },
    },
  };
}
