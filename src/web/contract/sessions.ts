// Launchers, launching (single-use tickets), sessions (live and past, live view,
// terminate), recordings, pinned host keys, the caller's SSH keys and the browser
// terminal: the routes' requests and answers.
import { body, bool, errors, idParams, int, noContent, nullableInt, nullableStr, nullableText, num, obj, optStr, page, pageQuery, str, text, textList, time } from './schema.js';
import { route } from './route.js';

export const PROTOCOLS = ['ssh', 'telnet', 'rdp'] as const;
export const LAUNCHER_TYPES = [...PROTOCOLS, 'session-connector'] as const;
export const RECORDING_FORMATS = ['asciicast', 'ghrec-rdp'] as const;
/** Lines of a recording's typed-text index per page at most (the player reads it whole). */
export const TEXT_PAGE = 10_000;

const protocol = { type: 'string', enum: PROTOCOLS } as const;

// ---- answers
const launcherOptions = {
  /** Shown to the person before a recorded session starts (consent to recording). */
  consentText: optStr(4000),
  /** Telnet login/password/failure prompt patterns (regular expression sources). */
  telnetLoginPrompt: optStr(256),
  telnetPasswordPrompt: optStr(256),
  telnetFailurePattern: optStr(256),
  /** RDP redirection: false denies (left out = allowed). */
  rdpClipboard: bool,
  rdpDrives: bool,
  rdpPrinters: bool,
  /** Session Connector "RDS Server Credentials": the id of the secret a gateway node's application account fetches (session connector launchers only). */
  rdsServerCredentials: nullableStr(128),
  /** Shared control (seed 003 names): auditors may watch the session live (left out = allowed). */
  allowLiveSnooping: bool,
  /** Shared control: people with join_sessions may ask to join; the owner accepts or declines (left out = not allowed). */
  allowJoinRequests: bool,
  /** Shared control: the owner may invite another person to join (left out = not allowed). */
  allowJoinInvites: bool,
} as const;
export const launcherSchema = obj({
  id: text,
  name: text,
  type: { type: 'string', enum: LAUNCHER_TYPES },
  /** The protocol actually spoken: the type, or the child type of a session connector. */
  protocol,
  childType: { type: ['string', 'null'], enum: [...PROTOCOLS, null] },
  gatewayHost: nullableText,
  gatewayPort: nullableInt,
  active: bool,
  builtin: bool,
  record: bool,
  recordKeystrokes: bool,
  idleTimeoutSeconds: int,
  maxDurationSeconds: int,
  allowPortForwarding: bool,
  options: body(launcherOptions),
});
export const launchSchema = body(
  {
    ticket: text,
    expiresAt: time,
    launcher: obj({ id: text, name: text, protocol }),
    /** Whether the person must agree to the recording first, and the text to show. */
    consent: body({ required: bool, text, given: bool }, ['required', 'text']),
    /** SSH and Telnet launchers: the command (and known_hosts lines) that use the ticket at the SSH door. */
    ssh: obj({ host: text, port: int, username: text, command: text, knownHosts: textList }),
    /** RDP launchers: where to fetch the .rdp file. */
    rdpFile: text,
  },
  ['ticket', 'expiresAt', 'launcher', 'consent'],
);
export const sessionSchema = obj({
  id: text,
  user: obj({ id: text, username: text }),
  secret: obj({ id: text, name: text }),
  launcher: text,
  protocol: text,
  target: obj({ host: text, port: int, username: nullableText }),
  clientIp: nullableText,
  door: text,
  status: { type: 'string', enum: ['live', 'ended'] },
  startedAt: time,
  endedAt: nullableText,
  endReason: nullableText,
  bytesIn: int,
  bytesOut: int,
  /** format: asciicast (terminal sessions, plays in asciinema) or ghrec-rdp (graphical, played by the RDP player). */
  recording: obj({ available: bool, sha256: nullableText, keystrokes: bool, format: { type: ['string', 'null'], enum: [...RECORDING_FORMATS, null] } }),
});
/** One line of a recording's typed-text index: seconds into the session, what kind of line, the text, who typed it in a shared session. */
export const textLineSchema = obj({ at: num, kind: text, text, /** Who typed the line, once the session was shared (null otherwise). */ by: nullableText });
export const searchHitSchema = obj({ ...sessionSchema.properties, matches: { type: 'array', items: textLineSchema } });
/** A target's host key pinned to a secret on first use (firstSeen: epoch milliseconds). */
export const hostKeySchema = obj({ secretId: text, host: text, port: int, keyType: text, fingerprint: text, firstSeen: int });
export const sshKeySchema = obj({ id: text, name: text, keyType: text, fingerprint: text, createdAt: time });

// ---- requests
const launcherProps = {
  name: str(128),
  type: { type: 'string', enum: ['session-connector'] },
  childType: { type: ['string', 'null'], enum: [...PROTOCOLS, null] },
  gatewayHost: nullableStr(253),
  gatewayPort: { type: ['integer', 'null'], minimum: 1, maximum: 65535 },
  active: bool,
  record: bool,
  recordKeystrokes: bool,
  idleTimeoutSeconds: { type: 'integer', minimum: 0, maximum: 604800 },
  maxDurationSeconds: { type: 'integer', minimum: 0, maximum: 604800 },
  allowPortForwarding: bool,
  options: body(launcherOptions),
} as const;
const ticketQuery = { type: 'object', required: ['ticket'], additionalProperties: false, properties: { ticket: str(64) } } as const;
const sessionIdParams = { type: 'object', properties: { sessionId: str(128) }, required: ['sessionId'] } as const;

export const launchers = {
  list: route('GET', '/api/v1/launchers', { tags: ['launchers'], summary: 'Launcher types: built-in ssh, telnet, rdp and session connector launchers', querystring: pageQuery(), response: { 200: page(launcherSchema), ...errors } }),
  get: route('GET', '/api/v1/launchers/:id', { tags: ['launchers'], params: idParams, response: { 200: launcherSchema, ...errors } }),
  create: route('POST', '/api/v1/launchers', {
    tags: ['launchers'],
    summary: 'Create a session connector launcher (child launcher type + gateway address)',
    body: body(launcherProps, ['name', 'type', 'childType', 'gatewayHost']),
    response: { 201: launcherSchema, ...errors },
  }),
  update: route('PATCH', '/api/v1/launchers/:id', {
    tags: ['launchers'],
    summary: 'Change a launcher (recording, keystrokes, timeouts, port forwarding, gateway)',
    params: idParams,
    body: body(launcherProps),
    response: { 200: launcherSchema, ...errors },
  }),
  remove: route('DELETE', '/api/v1/launchers/:id', { tags: ['launchers'], params: idParams, response: { 204: noContent, ...errors } }),
  // Session Connector: the gateway node (one application account per node) fetches the launcher's RDS Server Credentials.
  rdsCredentials: route('POST', '/api/v1/launchers/:id/rds-credentials', {
    tags: ['launchers'],
    summary: "A session connector launcher's RDS Server Credentials, for the gateway node's application account holding view access to that secret (audited as a reveal)",
    params: idParams,
    response: { 200: obj({ launcher: obj({ id: text, name: text }), secret: obj({ id: text, name: text }), fields: { type: 'object', additionalProperties: { type: ['string', 'number'] } } }), ...errors },
  }),
} as const;

/** Display settings a launch may choose (RDP): the bounds are checked by the core (400 invalid_display, a clear message). */
export const DISPLAY_BOUNDS = { width: { min: 200, max: 8192 }, height: { min: 200, max: 8192 }, dpi: { min: 96, max: 480 } } as const;
export const KEYBOARD_LAYOUTS = ['us', 'uk', 'de', 'fr'] as const;
const launchDisplayProps = {
  /** Desktop width and height in pixels (200..8192, both or neither); the gateway still limits the desktop to what a recording keeps. */
  width: { type: 'integer', description: 'desktop width in pixels, 200..8192 (with height)' },
  height: { type: 'integer', description: 'desktop height in pixels, 200..8192 (with width)' },
  /** Dots per inch of the person's screen (96..480): the target's scale factor. */
  dpi: { type: 'integer', description: 'screen DPI, 96..480 (100 % = 96)' },
  /** The keyboard layout the target and the keystroke log use. */
  keyboardLayout: { type: 'string', maxLength: 8, description: `one of ${KEYBOARD_LAYOUTS.join(', ')}` },
} as const;

export const launch = {
  launch: route('POST', '/api/v1/secrets/:id/launch', {
    tags: ['sessions'],
    summary: 'Issue a single-use launch ticket (lifetime: the sessionTimeout setting, default 900 s) and the command or file that uses it',
    params: idParams,
    // personalCredentialId: launch with one of your personal credentials instead of the shared one (vault unlocked).
    // consent: the person agreed to the recording the secret's access policy requires (needed for RDP; lets an SSH ticket login open).
    // accessLevel: the access level (id or name) the session's account gets: 400 when it does not apply to the secret, 403 when you are not approved for it.
    // width, height, dpi, keyboardLayout (RDP launchers): the desktop the target draws and the keyboard it reads; out of bounds → 400 invalid_display.
    body: body({ launcher: str(128), bindIp: bool, personalCredentialId: str(128), consent: bool, totp: str(64), accessLevel: str(128), ...launchDisplayProps }, ['launcher']),
    response: { 200: launchSchema, ...errors },
  }),
  rdpFile: route('GET', '/api/v1/launch/rdp-file', {
    tags: ['sessions'],
    summary: 'The .rdp file for one of your unused RDP launch tickets (application/x-rdp): the ticket travels as loadbalanceinfo to the RDP door',
    querystring: ticketQuery,
    response: { 200: { type: 'string', description: 'the .rdp file (application/x-rdp)' }, ...errors },
  }),
  decline: route('POST', '/api/v1/tickets/decline', { tags: ['sessions'], summary: 'Decline the consent to recording: voids the ticket (audited)', body: body({ ticket: str(64) }, ['ticket']), response: { 204: noContent, ...errors } }),
  // Frames: the client sends JSON {type:'input', data} / {type:'resize', cols, rows}; the
  // server sends binary terminal output and JSON {type:'ready'|'end'|'error'}.
  terminal: route('GET', '/api/v1/terminal', {
    tags: ['sessions'],
    summary: 'WebSocket terminal for SSH and Telnet targets, opened with a launch ticket (consent=1 when the launcher records)',
    querystring: {
      type: 'object',
      required: ['ticket'],
      additionalProperties: false,
      properties: { ticket: str(64), consent: { type: 'string', enum: ['0', '1'] }, cols: { type: 'integer', minimum: 10, maximum: 1000 }, rows: { type: 'integer', minimum: 5, maximum: 500 }, term: str(64) },
    },
    response: { 101: { type: 'null', description: 'Switching to the WebSocket protocol' }, ...errors },
  }),
} as const;

export const sessions = {
  list: route('GET', '/api/v1/sessions', {
    tags: ['sessions'],
    summary: 'Live and past sessions (everyone sees their own; auditors see all)',
    querystring: pageQuery({ status: { type: 'string', enum: ['live', 'ended'] }, userId: optStr(128), secretId: optStr(128), protocol }),
    response: { 200: page(sessionSchema), ...errors },
  }),
  get: route('GET', '/api/v1/sessions/:id', { tags: ['sessions'], params: idParams, response: { 200: sessionSchema, ...errors } }),
  terminate: route('POST', '/api/v1/sessions/:id/terminate', {
    tags: ['sessions'],
    summary: 'End a live session; the person sees the reason on one line, then is disconnected',
    params: idParams,
    body: body({ reason: optStr(500) }),
    response: { 200: obj({ terminated: bool }), ...errors },
  }),
  live: route('GET', '/api/v1/sessions/:id/live', {
    tags: ['sessions'],
    summary: 'Live view (Server-Sent Events). SSH/Telnet: the asciicast header, the recording so far, then every event. RDP: a header with format "rdp", a PNG keyframe of the screen so far, then every recording record in base64',
    params: idParams,
    response: { 200: { type: 'string', description: 'text/event-stream' }, ...errors },
  }),
} as const;

export const recordings = {
  search: route('GET', '/api/v1/recordings', {
    tags: ['recordings'],
    summary: 'Search typed commands/keystrokes and session events across recordings',
    querystring: { ...pageQuery({ q: str(256) }), required: ['q'] },
    response: { 200: page(searchHitSchema), ...errors },
  }),
  get: route('GET', '/api/v1/recordings/:sessionId', {
    tags: ['recordings'],
    summary: 'The session recording: asciicast v2 for SSH/Telnet (plays with `asciinema play`), a Gatehouse graphics recording (ghrec) for RDP (`gatehouse recording export`)',
    params: sessionIdParams,
    response: { 200: { type: 'string', description: 'the recording file' }, ...errors },
  }),
  // A recording's index is read whole by the player, so its pages are larger (up to 10000 lines).
  text: route('GET', '/api/v1/recordings/:sessionId/text', {
    tags: ['recordings'],
    summary: 'The typed-text index of one session (commands and events with their time offsets); limit 1-10000, default 10000',
    params: sessionIdParams,
    querystring: pageQuery({}, { max: TEXT_PAGE, default: TEXT_PAGE }),
    response: { 200: page(textLineSchema), ...errors },
  }),
} as const;

export const hostKeys = {
  get: route('GET', '/api/v1/secrets/:id/host-key', { tags: ['secrets'], summary: 'The target host key pinned for this secret (trust on first use)', params: idParams, response: { 200: obj({ hostKey: { anyOf: [hostKeySchema, { type: 'null' }] } }), ...errors } }),
  reset: route('DELETE', '/api/v1/secrets/:id/host-key', { tags: ['secrets'], summary: 'Forget the pinned host key after a legitimate change (needs edit)', params: idParams, response: { 204: noContent, ...errors } }),
} as const;

// The caller's SSH public keys (for `ssh user:secret@gatehouse`).
export const sshKeys = {
  list: route('GET', '/api/v1/me/ssh-keys', { tags: ['auth'], summary: 'Your registered SSH public keys', querystring: pageQuery(), response: { 200: page(sshKeySchema), ...errors } }),
  add: route('POST', '/api/v1/me/ssh-keys', {
    tags: ['auth'],
    summary: 'Register an SSH public key for logging in at the SSH door as <user>:<secret>',
    body: body({ name: str(100), publicKey: str(16384) }, ['name', 'publicKey']),
    response: { 201: sshKeySchema, ...errors },
  }),
  remove: route('DELETE', '/api/v1/me/ssh-keys/:id', { tags: ['auth'], params: idParams, response: { 204: noContent, ...errors } }),
} as const;
