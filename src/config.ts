// Configuration comes from the environment, optionally seeded by a JSON file
// (GATEHOUSE_CONFIG). Every problem is reported as one line naming the setting.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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
  /** zlib level of compressed recordings (1 fastest … 9 smallest). */
  recordingGzipLevel: number;
  /** Where recordings are kept: this node's disk, or S3-compatible object storage (`s3` below). */
  recordingStorage: 'local' | 's3';
  /** Object storage settings (recordingStorage 's3'; docs/operations.md). */
  s3?: RecordingS3Config;
  /** The port of the node-to-node listener (mutual TLS, core/cluster): set, this node is part of a cluster and shares its identity; unset, a single node. */
  clusterPort?: number;
  /** The host other nodes reach this node's cluster port at. */
  clusterAddress?: string;
  /** How often this node writes its heartbeat, and how long a silent node takes to count as dead. */
  nodeHeartbeatSeconds: number;
  nodeDeadSeconds: number;
  /** Worker processes sharing this node's public ports (GATEHOUSE_WORKERS; `auto`: one per core). 1: the server runs in this process. */
  workers: number;
  /**
   * Set only by the primary for each worker it forks (src/cluster-workers.ts), never from the
   * environment: which worker this is (1…workers); its node id is the data dir's plus `-w<index>`.
   */
  worker?: number;
  /** Where the node-to-node listener binds (default: bindHost); a worker's is loopback unless the node is in a cluster of machines. */
  clusterListenHost?: string;
  /** Test-only: every JSON answer is checked against its route's response schema (src/web/strict-responses.ts). */
  strictResponses: boolean;
}

/** Recordings in S3-compatible object storage (src/core/sessions/recording-storage-s3.ts). */
export interface RecordingS3Config {
  /** http(s) URL of an S3-compatible service; unset: AWS for the region. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Prepended to every recording's name (e.g. "gatehouse/"). */
  prefix: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  /** Never logged nor answered. */
  secretAccessKey?: string;
  /** Server-side encryption asked of the store. */
  sse?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  /** 'gatehouse': the bucket holds only ciphertext (a data key per recording). */
  encryption: 'none' | 'gatehouse';
  /** Bytes of a segment, so of an uploaded part (S3: at least 5 MiB but the last). */
  partBytes: number;
  /** Where segments wait for their upload. */
  spoolDir: string;
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
  'GATEHOUSE_RECORDING_GZIP_LEVEL',
  'GATEHOUSE_RECORDING_STORAGE',
  'GATEHOUSE_RECORDING_ENCRYPTION',
  'GATEHOUSE_RECORDING_SPOOL_DIR',
  'GATEHOUSE_S3_ENDPOINT',
  'GATEHOUSE_S3_REGION',
  'GATEHOUSE_S3_BUCKET',
  'GATEHOUSE_S3_PREFIX',
  'GATEHOUSE_S3_FORCE_PATH_STYLE',
  'GATEHOUSE_S3_ACCESS_KEY_ID',
  'GATEHOUSE_S3_SECRET_ACCESS_KEY',
  'GATEHOUSE_S3_SSE',
  'GATEHOUSE_S3_KMS_KEY_ID',
  'GATEHOUSE_S3_PART_MIB',
  'GATEHOUSE_S3_TEST_PART_BYTES',
  'GATEHOUSE_CLUSTER_PORT',
  'GATEHOUSE_CLUSTER_ADDRESS',
  'GATEHOUSE_NODE_HEARTBEAT_SECONDS',
  'GATEHOUSE_NODE_DEAD_SECONDS',
  'GATEHOUSE_WORKERS',
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

/** GATEHOUSE_WORKERS: a count, or `auto` (one per core). */
function workers(src: Source): number {
  const raw = src.GATEHOUSE_WORKERS?.trim();
  if (raw === 'auto') return availableParallelism();
  if (raw !== undefined && raw !== '' && (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 256)) throw new ConfigError('GATEHOUSE_WORKERS', `must be a whole number from 1 to 256, or auto, got "${src.GATEHOUSE_WORKERS}"`);
  return raw ? Number(raw) : 1;
}

/**
 * A warning when the metrics listener serves without a token on every interface (0.0.0.0, ::),
 * the public one included; null otherwise. A management address or loopback is the operator's
 * choice (docs/operations.md), a wildcard most often an oversight.
 */
export function metricsExposure(config: Pick<Config, 'metricsListen' | 'metricsToken'>): string | null {
  const l = config.metricsListen;
  if (!l || config.metricsToken) return null;
  // 0.0.0.0, or IPv6's any address however written (::, ::0, 0:0::0 …).
  if (l.host !== '0.0.0.0' && !(l.host.includes(':') && /^[0:]+$/.test(l.host))) return null;
  return `metrics are served without GATEHOUSE_METRICS_TOKEN on every interface (GATEHOUSE_METRICS_LISTEN=${hostPort(l.host, l.port)}): whoever reaches this machine reads them; bind it to a management address or 127.0.0.1, or set a token`;
}

/** `host:port` as written in settings and URLs: an IPv6 host in brackets (`[::1]:9464`). */
export const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

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

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const MIB = 1024 * 1024;
/** The largest part size GATEHOUSE_S3_PART_MIB takes (see s3Config). */
const MAX_PART_MIB = 1024;

/** The object storage settings (GATEHOUSE_RECORDING_STORAGE=s3); values are checked, the secret never echoed. */
function s3Config(src: Source, dataDir: string): RecordingS3Config {
  const bucket = src.GATEHOUSE_S3_BUCKET ?? '';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError('GATEHOUSE_S3_BUCKET', bucket ? `must be a bucket name (3 to 63 lower-case letters, digits, dots and hyphens), got "${bucket}"` : 'must be set when GATEHOUSE_RECORDING_STORAGE is s3');
  let endpoint: string | undefined;
  if (src.GATEHOUSE_S3_ENDPOINT !== undefined) {
    let url: URL;
    try {
      url = new URL(src.GATEHOUSE_S3_ENDPOINT);
    } catch {
      // Not echoed: a value that does not parse may hold credentials (a secret key with a "/" in it).
      throw new ConfigError('GATEHOUSE_S3_ENDPOINT', 'must be an http:// or https:// URL (the value given does not parse as one; credentials belong in GATEHOUSE_S3_ACCESS_KEY_ID and GATEHOUSE_S3_SECRET_ACCESS_KEY)');
    }
    if (url.username || url.password) throw new ConfigError('GATEHOUSE_S3_ENDPOINT', 'must not carry credentials (use GATEHOUSE_S3_ACCESS_KEY_ID and GATEHOUSE_S3_SECRET_ACCESS_KEY)');
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('GATEHOUSE_S3_ENDPOINT', `must be an http:// or https:// URL, got the scheme "${url.protocol}"`);
    endpoint = url.toString().replace(/\/$/, '');
  }
  const region = src.GATEHOUSE_S3_REGION ?? 'us-east-1';
  if (!/^[a-z0-9-]{2,40}$/.test(region)) throw new ConfigError('GATEHOUSE_S3_REGION', `must be a region name (e.g. eu-west-1), got "${region}"`);
  const prefix = src.GATEHOUSE_S3_PREFIX ?? '';
  if (prefix.startsWith('/') || prefix.includes('..') || prefix.length > 200 || /[\x00-\x1f]/.test(prefix)) throw new ConfigError('GATEHOUSE_S3_PREFIX', `must be a relative key prefix (e.g. "gatehouse/recordings/"), got "${prefix}"`);
  const pathStyle = src.GATEHOUSE_S3_FORCE_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '0' && pathStyle !== '1') throw new ConfigError('GATEHOUSE_S3_FORCE_PATH_STYLE', `must be 0 or 1, got "${pathStyle}"`);
  const id = src.GATEHOUSE_S3_ACCESS_KEY_ID;
  const secret = src.GATEHOUSE_S3_SECRET_ACCESS_KEY;
  if (!!id !== !!secret) throw new ConfigError(id ? 'GATEHOUSE_S3_SECRET_ACCESS_KEY' : 'GATEHOUSE_S3_ACCESS_KEY_ID', 'must be set together with ' + (id ? 'GATEHOUSE_S3_ACCESS_KEY_ID' : 'GATEHOUSE_S3_SECRET_ACCESS_KEY') + ' (or leave both unset for the AWS SDK\'s own credential chain)');
  const sse = src.GATEHOUSE_S3_SSE ?? 'none';
  if (sse !== 'none' && sse !== 'AES256' && sse !== 'aws:kms') throw new ConfigError('GATEHOUSE_S3_SSE', `must be none, AES256 or aws:kms, got "${sse}"`);
  const kmsKeyId = src.GATEHOUSE_S3_KMS_KEY_ID;
  if (kmsKeyId !== undefined && sse !== 'aws:kms') throw new ConfigError('GATEHOUSE_S3_KMS_KEY_ID', 'is only used with GATEHOUSE_S3_SSE=aws:kms');
  const encryption = src.GATEHOUSE_RECORDING_ENCRYPTION ?? 'none';
  if (encryption !== 'none' && encryption !== 'gatehouse') throw new ConfigError('GATEHOUSE_RECORDING_ENCRYPTION', `must be none or gatehouse, got "${encryption}"`);
  // Multiplied, not shifted: `<< 20` is a 32-bit shift (4096 MiB would give 0). At most 1 GiB:
  // a part is read whole into memory (readFile stops at 2 GiB) and a node's spool holds about
  // four of them per live session, so S3's own 5 GiB maximum is not usable here.
  let partBytes = integer(src, 'GATEHOUSE_S3_PART_MIB', 8, 5, MAX_PART_MIB) * MIB;
  if (src.GATEHOUSE_S3_TEST_PART_BYTES !== undefined) {
    // Below S3's 5 MiB minimum part: only for tests against a loopback server that does not enforce it.
    if (!endpoint || !LOOPBACK_HOSTS.has(new URL(endpoint).hostname)) throw new ConfigError('GATEHOUSE_S3_TEST_PART_BYTES', 'is for tests against a loopback S3 server only (GATEHOUSE_S3_ENDPOINT on 127.0.0.1)');
    partBytes = integer(src, 'GATEHOUSE_S3_TEST_PART_BYTES', partBytes, 4096, MAX_PART_MIB * MIB);
  }
  return {
    ...(endpoint ? { endpoint } : {}),
    region,
    bucket,
    prefix,
    // Path-style by default for a named endpoint (MinIO, Ceph RGW, s3rver), virtual-hosted for AWS.
    forcePathStyle: pathStyle !== undefined ? pathStyle === '1' : !!endpoint,
    ...(id && secret ? { accessKeyId: id, secretAccessKey: secret } : {}),
    ...(sse !== 'none' ? { sse } : {}),
    ...(kmsKeyId ? { kmsKeyId } : {}),
    encryption,
    partBytes,
    spoolDir: resolve(src.GATEHOUSE_RECORDING_SPOOL_DIR ?? resolve(dataDir, 'recording-spool')),
  };
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
    recordingGzipLevel: integer(src, 'GATEHOUSE_RECORDING_GZIP_LEVEL', 1, 1, 9),
    recordingStorage: 'local',
    nodeHeartbeatSeconds: integer(src, 'GATEHOUSE_NODE_HEARTBEAT_SECONDS', 5, 1, 3600),
    nodeDeadSeconds: integer(src, 'GATEHOUSE_NODE_DEAD_SECONDS', 30, 2, 86_400),
    workers: workers(src),
  };
  cfg.recordingsDir = resolve(src.GATEHOUSE_RECORDINGS_DIR ?? resolve(cfg.dataDir, 'recordings'));
  const compression = src.GATEHOUSE_RECORDING_COMPRESSION ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'none') throw new ConfigError('GATEHOUSE_RECORDING_COMPRESSION', `must be gzip or none, got "${compression}"`);
  cfg.recordingCompression = compression;
  const storage = src.GATEHOUSE_RECORDING_STORAGE ?? 'local';
  if (storage !== 'local' && storage !== 's3') throw new ConfigError('GATEHOUSE_RECORDING_STORAGE', `must be local or s3, got "${storage}"`);
  cfg.recordingStorage = storage;
  if (storage === 's3') cfg.s3 = s3Config(src, cfg.dataDir);
  else if (src.GATEHOUSE_RECORDING_ENCRYPTION !== undefined && src.GATEHOUSE_RECORDING_ENCRYPTION !== 'none') {
    throw new ConfigError('GATEHOUSE_RECORDING_ENCRYPTION', 'is for recordings in object storage (GATEHOUSE_RECORDING_STORAGE=s3); the local disk is protected by its own permissions and disk encryption');
  }
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
  // Worker processes are nodes of a cluster (src/cluster-workers.ts): that takes PostgreSQL.
  if (cfg.workers > 1 && !cfg.databaseUrl) {
    throw new ConfigError('GATEHOUSE_WORKERS', `above 1 needs PostgreSQL (GATEHOUSE_DATABASE_URL): each worker is a node of a cluster, and the embedded SQLite database is for one process; got "${src.GATEHOUSE_WORKERS}"`);
  }
  return cfg;
}
