// Configuration comes from the environment, optionally seeded by a JSON file
// (GATEHOUSE_CONFIG). Every problem is reported as one line naming the setting.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface Config {
  dataDir: string;
  httpPort: number;
  sshPort: number;
  rdpPort: number;
  /** Address the listeners bind to. */
  bindHost: string;
  /** postgres://… selects PostgreSQL; undefined means SQLite in the data dir. */
  databaseUrl?: string;
  /** base64 or hex encoded 32-byte key; undefined means the key file in the data dir. */
  masterKey?: string;
  adminPassword?: string;
  /** The "custom URL" handed out in launches. Always https. */
  publicUrl?: string;
  logLevel: string;
  /** Operator's certificate and key (PEM files); absent = self-signed in the data dir. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Pinned audit signing keys: a file, PEM text or one base64 key; unset = audit-signing.pub in the data dir. */
  auditPublicKey?: string;
  /** Seconds a door connection may stay unauthenticated (0 = no limit). */
  loginGraceSeconds: number;
  /** Concurrent unauthenticated connections per door, in total and from one source address. */
  maxStartups: number;
  maxStartupsPerSource: number;
  /** Bearer token that `GET /metrics` asks for (on the HTTPS port and on metricsListen); unset: /metrics on the HTTPS port answers 404. */
  metricsToken?: string;
  /** A separate plain-HTTP listener serving only /metrics (host and port; port 0 picks one). */
  metricsListen?: { host: string; port: number };
  /** SIGTERM drain: seconds running sessions may go on after new ones are refused (0 = end them at once). */
  drainSeconds: number;
  /** Where recordings are written (default: recordings/ in the data dir). */
  recordingsDir: string;
  /** How new recordings are stored: gzip members per flush (default), or plain. */
  recordingCompression: 'gzip' | 'none';
  /** MiB of one recording that may wait for the disk before its session fails closed. */
  recordingQueueMiB: number;
  /** The port of the node-to-node listener (mutual TLS, core/cluster): set, this node is part of a cluster and shares its identity; unset, a single node. */
  clusterPort?: number;
  /** The host other nodes reach this node's cluster port at. */
  clusterAddress?: string;
  /** How often this node writes its heartbeat, and how long a silent node takes to count as dead. */
  nodeHeartbeatSeconds: number;
  nodeDeadSeconds: number;
  /** Test-only: every JSON answer is checked against its route's response schema (src/web/strict-responses.ts). */
  strictResponses: boolean;
}

export class ConfigError extends Error {
  constructor(readonly setting: string, detail: string) {
    super(`invalid configuration: ${setting} ${detail}`);
  }
}

type Source = Record<string, string | undefined>;

const KEYS = [
  'GATEHOUSE_DATA_DIR',
  'GATEHOUSE_HTTP_PORT',
  'GATEHOUSE_SSH_PORT',
  'GATEHOUSE_RDP_PORT',
  'GATEHOUSE_BIND_HOST',
  'GATEHOUSE_DATABASE_URL',
  'GATEHOUSE_MASTER_KEY',
  'GATEHOUSE_ADMIN_PASSWORD',
  'GATEHOUSE_PUBLIC_URL',
  'GATEHOUSE_LOG_LEVEL',
  'GATEHOUSE_TLS_CERT',
  'GATEHOUSE_TLS_KEY',
  'GATEHOUSE_AUDIT_PUBLIC_KEY',
  'GATEHOUSE_LOGIN_GRACE_SECONDS',
  'GATEHOUSE_MAX_STARTUPS',
  'GATEHOUSE_MAX_STARTUPS_PER_SOURCE',
  'GATEHOUSE_STRICT_RESPONSES',
  'GATEHOUSE_METRICS_TOKEN',
  'GATEHOUSE_METRICS_LISTEN',
  'GATEHOUSE_DRAIN_SECONDS',
  'GATEHOUSE_RECORDINGS_DIR',
  'GATEHOUSE_RECORDING_COMPRESSION',
  'GATEHOUSE_RECORDING_QUEUE_MIB',
  'GATEHOUSE_CLUSTER_PORT',
  'GATEHOUSE_CLUSTER_ADDRESS',
  'GATEHOUSE_NODE_HEARTBEAT_SECONDS',
  'GATEHOUSE_NODE_DEAD_SECONDS',
] as const;

function readConfigFile(path: string): Source {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('GATEHOUSE_CONFIG', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('GATEHOUSE_CONFIG', `${path} is not valid JSON`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('GATEHOUSE_CONFIG', `${path} must hold a JSON object`);
  }
  const out: Source = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    const key = k.startsWith('GATEHOUSE_') ? k : `GATEHOUSE_${k.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
    if (!(KEYS as readonly string[]).includes(key)) throw new ConfigError('GATEHOUSE_CONFIG', `${path}: unknown setting "${k}"`);
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(key, `must be a string or number in ${path}`);
    // A JSON file can say what it means: a port there is a number ("8443" is refused, not guessed at).
    if (key.endsWith('_PORT') && typeof v !== 'number') {
      out[key] = STRING_PORT + String(v);
      continue;
    }
    out[key] = String(v);
  }
  return out;
}

/** Marks a port the config file gave as a JSON string; refused only if the environment does not override it. */
const STRING_PORT = '\u0000string:';

function port(src: Source, key: string, def: number): number {
  const raw = src[key];
  if (raw === undefined || raw === '') return def;
  if (raw.startsWith(STRING_PORT)) throw new ConfigError(key, `must be a JSON number (a TCP port) in the GATEHOUSE_CONFIG file, got ${JSON.stringify(raw.slice(STRING_PORT.length))}`);
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(key, `must be a TCP port number (0-65535), got "${raw}"`);
  const n = Number(raw);
  if (n > 65535) throw new ConfigError(key, `must be a TCP port number (0-65535), got "${raw}"`);
  return n;
}

function integer(src: Source, key: string, def: number, min: number, max: number): number {
  const raw = src[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max) throw new ConfigError(key, `must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** `host:port` (an IPv6 host in brackets: `[::1]:9464`); the port may be 0. */
function listenAddress(src: Source, key: string): { host: string; port: number } {
  const raw = (src[key] ?? '').trim();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(key, `must be host:port (e.g. 127.0.0.1:9464, [::1]:9464), got "${raw}"`);
  return { host: (m[1] ?? m[2])!, port };
}

export function validatePublicUrl(value: string, setting = 'GATEHOUSE_PUBLIC_URL'): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(setting, `must be an https:// URL, got "${value}"`);
  }
  if (url.protocol !== 'https:') throw new ConfigError(setting, `must use https:// (launchers refuse plain http), got "${value}"`);
  return url.toString().replace(/\/$/, '');
}

export function decodeMasterKey(value: string, setting = 'GATEHOUSE_MASTER_KEY'): Buffer {
  const v = value.trim();
  const buf = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (buf.length !== 32 || (!/^[0-9a-fA-F]{64}$/.test(v) && buf.toString('base64').replace(/=+$/, '') !== v.replace(/=+$/, ''))) {
    throw new ConfigError(setting, 'must be 32 random bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)');
  }
  return buf;
}

export function loadConfig(env: Source = process.env): Config {
  const file = env.GATEHOUSE_CONFIG ? readConfigFile(env.GATEHOUSE_CONFIG) : {};
  const src: Source = { ...file };
  for (const k of KEYS) if (env[k] !== undefined && env[k] !== '') src[k] = env[k];

  const cfg: Config = {
    dataDir: resolve(src.GATEHOUSE_DATA_DIR ?? './data'),
    httpPort: port(src, 'GATEHOUSE_HTTP_PORT', 8443),
    sshPort: port(src, 'GATEHOUSE_SSH_PORT', 2222),
    rdpPort: port(src, 'GATEHOUSE_RDP_PORT', 3389),
    bindHost: src.GATEHOUSE_BIND_HOST ?? '0.0.0.0',
    logLevel: src.GATEHOUSE_LOG_LEVEL ?? 'info',
    loginGraceSeconds: integer(src, 'GATEHOUSE_LOGIN_GRACE_SECONDS', 30, 0, 3600),
    maxStartups: integer(src, 'GATEHOUSE_MAX_STARTUPS', 100, 1, 100_000),
    maxStartupsPerSource: integer(src, 'GATEHOUSE_MAX_STARTUPS_PER_SOURCE', 10, 1, 100_000),
    strictResponses: src.GATEHOUSE_STRICT_RESPONSES === '1',
    drainSeconds: integer(src, 'GATEHOUSE_DRAIN_SECONDS', 300, 0, 86400),
    recordingsDir: '',
    recordingCompression: 'gzip',
    recordingQueueMiB: integer(src, 'GATEHOUSE_RECORDING_QUEUE_MIB', 8, 1, 1024),
    nodeHeartbeatSeconds: integer(src, 'GATEHOUSE_NODE_HEARTBEAT_SECONDS', 5, 1, 3600),
    nodeDeadSeconds: integer(src, 'GATEHOUSE_NODE_DEAD_SECONDS', 30, 2, 86_400),
  };
  cfg.recordingsDir = resolve(src.GATEHOUSE_RECORDINGS_DIR ?? resolve(cfg.dataDir, 'recordings'));
  const compression = src.GATEHOUSE_RECORDING_COMPRESSION ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'none') throw new ConfigError('GATEHOUSE_RECORDING_COMPRESSION', `must be gzip or none, got "${compression}"`);
  cfg.recordingCompression = compression;
  if (cfg.nodeDeadSeconds < 2 * cfg.nodeHeartbeatSeconds) {
    throw new ConfigError('GATEHOUSE_NODE_DEAD_SECONDS', `must be at least twice GATEHOUSE_NODE_HEARTBEAT_SECONDS (${cfg.nodeHeartbeatSeconds}), got "${cfg.nodeDeadSeconds}"`);
  }
  if (src.GATEHOUSE_CLUSTER_PORT !== undefined && src.GATEHOUSE_CLUSTER_PORT !== '') cfg.clusterPort = port(src, 'GATEHOUSE_CLUSTER_PORT', 0);
  if (src.GATEHOUSE_CLUSTER_ADDRESS !== undefined) {
    if (!/^[A-Za-z0-9.:_-]+$/.test(src.GATEHOUSE_CLUSTER_ADDRESS) && !/^\[[0-9A-Fa-f:.]+\]$/.test(src.GATEHOUSE_CLUSTER_ADDRESS)) throw new ConfigError('GATEHOUSE_CLUSTER_ADDRESS', `must be a host name or IP address, got "${src.GATEHOUSE_CLUSTER_ADDRESS}"`);
    cfg.clusterAddress = src.GATEHOUSE_CLUSTER_ADDRESS;
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) {
    throw new ConfigError('GATEHOUSE_LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent; got "${cfg.logLevel}"`);
  }
  const db = src.GATEHOUSE_DATABASE_URL;
  if (db !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(db)) throw new ConfigError('GATEHOUSE_DATABASE_URL', 'must be a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite database)');
    try {
      new URL(db);
    } catch {
      throw new ConfigError('GATEHOUSE_DATABASE_URL', 'is not a valid URL');
    }
    cfg.databaseUrl = db;
  }
  if (src.GATEHOUSE_MASTER_KEY !== undefined) {
    decodeMasterKey(src.GATEHOUSE_MASTER_KEY);
    cfg.masterKey = src.GATEHOUSE_MASTER_KEY;
  }
  if (src.GATEHOUSE_ADMIN_PASSWORD !== undefined) {
    if (src.GATEHOUSE_ADMIN_PASSWORD.length < 12) throw new ConfigError('GATEHOUSE_ADMIN_PASSWORD', 'must be at least 12 characters');
    cfg.adminPassword = src.GATEHOUSE_ADMIN_PASSWORD;
  }
  const cert = src.GATEHOUSE_TLS_CERT;
  const key = src.GATEHOUSE_TLS_KEY;
  if (!!cert !== !!key) throw new ConfigError(cert ? 'GATEHOUSE_TLS_KEY' : 'GATEHOUSE_TLS_CERT', 'must be set together with ' + (cert ? 'GATEHOUSE_TLS_CERT' : 'GATEHOUSE_TLS_KEY'));
  for (const [k, v] of [['GATEHOUSE_TLS_CERT', cert], ['GATEHOUSE_TLS_KEY', key]] as const) {
    if (v && !existsSync(v)) throw new ConfigError(k, `names a file that does not exist: ${v}`);
  }
  if (cert && key) {
    cfg.tlsCertFile = cert;
    cfg.tlsKeyFile = key;
  }
  if (src.GATEHOUSE_AUDIT_PUBLIC_KEY !== undefined) cfg.auditPublicKey = src.GATEHOUSE_AUDIT_PUBLIC_KEY;
  if (src.GATEHOUSE_PUBLIC_URL !== undefined) cfg.publicUrl = validatePublicUrl(src.GATEHOUSE_PUBLIC_URL);
  if (src.GATEHOUSE_METRICS_TOKEN !== undefined) {
    const t = src.GATEHOUSE_METRICS_TOKEN.trim();
    if (t.length < 16 || t.length > 512 || /[\s\x00-\x1f]/.test(t)) throw new ConfigError('GATEHOUSE_METRICS_TOKEN', 'must be 16 to 512 characters without spaces (e.g. `openssl rand -hex 32`)');
    cfg.metricsToken = t;
  }
  if (src.GATEHOUSE_METRICS_LISTEN !== undefined) cfg.metricsListen = listenAddress(src, 'GATEHOUSE_METRICS_LISTEN');
  return cfg;
}
