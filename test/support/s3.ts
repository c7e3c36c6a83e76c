// An S3-compatible server on loopback for the tests of recordings in object storage:
// s3rver (an npm dev dependency) keeping its bucket in a temporary directory, behind a
// small HTTP relay that the test controls. The relay notes every request's method, path and
// headers (to see that the server-side encryption header reached the server, and how many
// parts were uploaded), and can be taken down and up again (the store failing mid-session)
// without touching the server's data. `nodeEnv` is the environment a `gatehouse serve` node
// needs to keep its recordings there (shared by the S3 recordings test and the cluster test).
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import S3rver from 's3rver';
import { recordingRelPath } from '../../src/core/sessions/recording-path.js';
import { S3RecordingStorage } from '../../src/core/sessions/recording-storage-s3.js';
import type { RecordingSpool } from '../../src/core/sessions/spool-contract.js';
import { removeTempDirs, tempDir } from '../cli/support.js';
import { startTestApp, type TestApp } from './harness.js';
import { sessionRow } from './session-rows.js';
import { waitFor } from './xrdp.js';

/** Parts of 256 KiB for the tests (below S3's 5 MiB minimum: s3rver takes them, and only a loopback endpoint may ask for it). */
export const S3_TEST_PART_BYTES = 256 * 1024;

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** The part of s3rver's file store (lib/stores/filesystem.js, 3.7) readAfterWrite relies on. */
interface S3rverStore {
  putObject(object: { bucket: string; key: string }): Promise<{ size: number; md5: string }>;
  getResourcePath(bucket: string, key: string, resourceType: string): string;
}

/**
 * S3 reads what a completed write stored: a GetObject after PutObject or CompleteMultipartUpload
 * answered gets the whole object. s3rver answers those once the body has passed through its
 * hashing, while its file may still be being written (the write stream is not waited for), so
 * a read right after could get a short or empty file: seen in full runs, where the node that
 * completed a dead node's upload read the object back empty ("unexpected end of file"). Each
 * write here answers only once the object's file holds all of it, as S3 would.
 */
function readAfterWrite(server: S3rver): void {
  const store = (server as unknown as { store?: S3rverStore }).store;
  if (!store || typeof store.putObject !== 'function' || typeof store.getResourcePath !== 'function') throw new Error('s3rver changed: test/support/s3.ts readAfterWrite needs a review');
  const put = store.putObject.bind(store);
  store.putObject = async (object) => {
    const done = await put(object);
    const file = store.getResourcePath(object.bucket, object.key, 'object');
    for (let waited = 0; ; waited += 5) {
      let size = -1;
      try {
        size = statSync(file).size;
      } catch {
        /* not there yet */
      }
      if (size === done.size) return done;
      if (waited > 60_000) throw new Error(`s3rver did not write ${file} (${size} of ${done.size} bytes)`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
}

export class S3Server {
  private s3rver: S3rver | null = null;
  private relay: Server | null = null;
  private backendPort = 0;
  private down = false;
  private readonly sockets = new Set<Socket>();
  readonly seen: SeenRequest[] = [];
  port = 0;
  /** What s3rver's default credentials are (it checks signatures with them). */
  readonly accessKeyId = 'S3RVER';
  readonly secretAccessKey = 'S3RVER';

  constructor(
    readonly directory: string,
    readonly bucket = 'recordings',
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * The settings of a node recording into this server's bucket: under the prefix `gh/`,
   * server-side encryption asked for, Gatehouse-side encryption and gzip on (parts are gzip
   * members sealed in frames), parts of S3_TEST_PART_BYTES so that a test sees several.
   */
  nodeEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      GATEHOUSE_RECORDING_STORAGE: 's3',
      GATEHOUSE_S3_ENDPOINT: this.endpoint,
      GATEHOUSE_S3_BUCKET: this.bucket,
      GATEHOUSE_S3_PREFIX: 'gh/',
      GATEHOUSE_S3_ACCESS_KEY_ID: this.accessKeyId,
      GATEHOUSE_S3_SECRET_ACCESS_KEY: this.secretAccessKey,
      GATEHOUSE_S3_SSE: 'AES256',
      GATEHOUSE_RECORDING_ENCRYPTION: 'gatehouse',
      GATEHOUSE_S3_TEST_PART_BYTES: String(S3_TEST_PART_BYTES),
      GATEHOUSE_RECORDING_COMPRESSION: 'gzip',
      ...extra,
    };
  }

  async start(): Promise<void> {
    this.s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: this.directory, configureBuckets: [{ name: this.bucket }] });
    readAfterWrite(this.s3rver);
    this.backendPort = (await this.s3rver.run()).port;
    this.relay = createServer((req, res) => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      if (this.down) {
        req.socket.destroy();
        return;
      }
      const up = request({ host: '127.0.0.1', port: this.backendPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    this.relay.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((res) => this.relay!.listen(0, '127.0.0.1', () => res()));
    const a = this.relay.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }

  /** The store stops answering: open connections are cut, new requests too. */
  takeDown(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  bringUp(): void {
    this.down = false;
  }

  /** The requests seen for one object key (path-style: /bucket/key…). */
  requestsFor(key: string): SeenRequest[] {
    return this.seen.filter((r) => decodeURIComponent(r.url.split('?')[0]!) === `/${this.bucket}/${key}`);
  }

  /** The stored bytes of every object whose key contains `part` (read from s3rver's directory, as the bucket holds them). */
  storedObjects(): { file: string; data: Buffer }[] {
    const out: { file: string; data: Buffer }[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('._S3rver_object')) out.push({ file: p, data: readFileSync(p) });
      }
    };
    walk(join(this.directory, this.bucket));
    return out;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.relay ? this.relay.close(() => res()) : res()));
    await this.s3rver?.close().catch(() => undefined);
  }
}

/**
 * A test app (SQLite) and an S3 server on loopback for the tests that follow in the file or
 * describe block: started before them, stopped after. Read its fields inside the tests.
 */
export function appWithS3(name: string): { t: TestApp; s3: S3Server; adminId: string } {
  const the = {} as { t: TestApp; s3: S3Server; adminId: string };
  before(async () => {
    the.t = await startTestApp('sqlite');
    the.s3 = new S3Server(tempDir(`gatehouse-s3-${name}-`));
    await the.s3.start();
    the.adminId = (await the.t.core.store.db.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()).id;
  });
  after(async () => {
    await the.s3?.stop();
    await the.t?.close();
    removeTempDirs();
  });
  return the;
}

/**
 * The recording storage a node named `node` would have on this server, built in-process on a
 * test app's database and data keys (tests that play several nodes' parts against one bucket).
 */
export function nodeStorage(s3: S3Server, core: Pick<TestApp['core'], 'store' | 'dataKeys' | 'log'>, node: string, opts: { encryption: 'none' | 'gatehouse'; prefix: string; spoolDir: string }): S3RecordingStorage {
  return new S3RecordingStorage(
    {
      endpoint: s3.endpoint,
      region: 'us-east-1',
      bucket: s3.bucket,
      prefix: opts.prefix,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      encryption: opts.encryption,
      partBytes: S3_TEST_PART_BYTES,
      spoolDir: opts.spoolDir,
    },
    'none',
    { store: core.store, dataKeys: core.dataKeys, node, log: core.log },
  );
}

/** A shell session the test types into and reads from (the tests' ssh client). */
export interface TypingClient {
  write(text: string): void;
  waitFor(text: string, timeoutMs?: number): Promise<unknown>;
}

/**
 * Makes a recorded SSH session print ~1.6 MB of random base64 in bursts, so that its node
 * uploads parts of the recording while the session runs, then waits (through `query`, the
 * cluster's PostgreSQL) until at least two parts are recorded as uploaded: the moment to kill
 * the node mid-upload. `tag` ends the output (as `<tag>-42`, which the session prints only
 * when the command ran, not when it was echoed).
 */
export async function burstUntilTwoParts(client: TypingClient, sessionId: string, tag: string, query: <T>(sql: string, args?: unknown[]) => Promise<T[]>): Promise<void> {
  client.write(`for i in $(seq 1 12); do head -c 100000 /dev/urandom | base64 -w 100; sleep 0.2; done; echo ${tag}-$((6*7))\r`);
  await client.waitFor(`${tag}-42`, 120_000);
  await waitFor(`parts of session ${sessionId} uploaded`, async () => {
    const r = (await query<{ parts: string }>('select parts from recording_uploads where session_id = $1', [sessionId]))[0];
    return r && JSON.parse(r.parts).length >= 2;
  }, 30_000);
}

/** Writes `segments` through the storage's spool as the segmented writer does, and finishes it (`expectFailure`: the recording fails while the session runs). */
export async function recordThrough(storage: S3RecordingStorage, rel: string, segments: Buffer[], expectFailure = false): Promise<void> {
  const spool = storage.writeTarget(rel).options.spool as RecordingSpool;
  const failures: Error[] = [];
  spool.attach({ failed: (e) => void failures.push(e), releasing: async () => undefined });
  for (const [i, data] of segments.entries()) {
    mkdirSync(dirname(spool.segmentPath(i)), { recursive: true });
    writeFileSync(spool.segmentPath(i), data);
    if (i < segments.length - 1) spool.sealed(i);
  }
  await spool.finish(segments.length - 1, false);
  if (expectFailure) assert.ok(failures.length > 0, 'the recording failed (its session ends, fail closed)');
  else assert.deepEqual(failures.map((e) => e.message), [], 'no part failed while the session ran');
}

/**
 * What a node had done before it paused or died: a live session of `node`, a minute old, whose
 * recording's first segment (its header and half a part of output) went through the storage's
 * spool and was uploaded as part 1. `failures` collects what the spool reports to its session.
 */
export async function sessionWithOnePart(the: { t: TestApp; adminId: string }, storage: S3RecordingStorage, node: string, failures: Error[] = []): Promise<{ id: string; at: number; rel: string; spool: RecordingSpool; first: Buffer }> {
  const at = Date.now() - 60_000;
  const row = sessionRow({ userId: the.adminId, username: 'admin', startedAt: at, node });
  await the.t.core.store.db.insertInto('sessions').values(row).execute();
  const rel = recordingRelPath(row.id, at, '.cast');
  const spool = storage.writeTarget(rel).options.spool as RecordingSpool;
  spool.attach({ failed: (e) => void failures.push(e), releasing: async () => undefined });
  const first = Buffer.concat([Buffer.from(JSON.stringify({ version: 2, width: 80, height: 24 }) + '\n'), Buffer.from(JSON.stringify([0.5, 'o', randomBytes(S3_TEST_PART_BYTES / 2).toString('hex')]) + '\n')]);
  mkdirSync(dirname(spool.segmentPath(0)), { recursive: true });
  writeFileSync(spool.segmentPath(0), first);
  spool.sealed(0);
  const parts = async () => JSON.parse((await the.t.core.store.db.selectFrom('recordingUploads').select('parts').where('rel', '=', rel).executeTakeFirst())?.parts ?? '[]').length;
  await waitFor('part 1 uploaded', async () => (await parts()) === 1);
  return { id: row.id, at, rel, spool, first };
}
