// `gatehouse audit verify`, `audit checkpoint export` and `recording verify`: online through
// the API, or --offline on the data dir. Offline verification trusts the keys pinned in the
// data dir (or --public-key), never those found only in the database unless --trust-db-keys.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { exportCheckpoint, parseAnchors, parsePublicKeys, type Anchor } from '../core/audit/pinning.js';
import { hashOrWhy, isProblem, verifyRecordings, type RecordingStatus } from '../core/sessions/recording-seals.js';
import { sha256File } from '../core/sessions/recording-repair.js';
import { parseRecordingName } from '../core/sessions/recording-storage.js';
import { api, type RecordingVerifyResponse, type VerifyResult } from '../web/contract/index.js';
import { ApiError, callApi, type CliState } from './client.js';
import { withCore } from './offline.js';

/** Exit code when verification finds a problem (distinct from 1, a failed command). */
export const VERIFY_FAILED = 3;

export interface AuditVerifyOptions {
  offline?: boolean;
  publicKey?: string[];
  trustDbKeys?: boolean;
  anchor?: string[];
}

const readAnchors = (files: string[] = []): Anchor[] =>
  files.flatMap((f) => {
    if (!existsSync(f)) throw new ApiError(400, 'invalid_request', `no such anchor file: ${f}`);
    const a = parseAnchors(readFileSync(f, 'utf8'), f);
    if (!a.length) throw new ApiError(400, 'invalid_request', `${f} holds no checkpoint`);
    return a;
  });

export async function auditVerify(o: AuditVerifyOptions, session: () => CliState): Promise<void> {
  if ((o.publicKey || o.trustDbKeys) && !o.offline) throw new ApiError(400, 'invalid_request', `${o.publicKey ? '--public-key' : '--trust-db-keys'} needs --offline (the server verifies against the keys pinned in its data dir)`);
  const anchors = readAnchors(o.anchor);
  let r: VerifyResult;
  if (o.offline) {
    const pinnedKeys = o.publicKey?.flatMap((f) => {
      if (!existsSync(f)) throw new ApiError(400, 'invalid_request', `no such public key file: ${f}`);
      return parsePublicKeys(readFileSync(f, 'utf8'), f);
    });
    if (o.trustDbKeys) process.stderr.write('warning: --trust-db-keys: also trusting signing keys recorded in the database; anyone who can write to it can add one, so a rewritten chain may pass. Pin the key instead (audit-signing.pub or --public-key).\n');
    r = await withCore((core) => core.audit.verify({ ...(pinnedKeys ? { pinnedKeys, pinnedSource: o.publicKey!.join(', ') } : {}), ...(o.trustDbKeys ? { trustDbKeys: true } : {}), anchors }));
  } else if (anchors.length) {
    r = await callApi(session(), api.audit.verifyWithAnchors, { body: { anchors: anchors.map((a) => exportCheckpoint(a, null)) } });
  } else {
    r = await callApi(session(), api.audit.verify);
  }
  if (r.ok) {
    const unsigned = r.unsigned ? `; ${r.unsigned} newer event${r.unsigned === 1 ? '' : 's'} not yet due for signing` : '';
    process.stdout.write(`audit chain OK: ${r.count} events, ${r.checkpoints} signed checkpoints${r.lastCheckpointSeq ? ` (last at event ${r.lastCheckpointSeq})` : ''}${unsigned}\n`);
    const trust = r.trust === 'database' ? 'keys pinned and keys recorded in the database (NOT independent of the database)' : `keys pinned in ${r.keySource ?? 'the data dir'}`;
    process.stdout.write(`verified against ${trust}; ${r.anchors} anchor checkpoint${r.anchors === 1 ? '' : 's'} found in the chain\n`);
  } else {
    process.stdout.write(`audit chain BROKEN: ${r.message ?? `at event ${r.brokenAt}`}${r.reason ? ` [${r.reason}]` : ''}\n`);
    process.exitCode = VERIFY_FAILED;
  }
}

export async function checkpointExport(o: { offline?: boolean; out?: string; sign?: boolean }, session: () => CliState): Promise<void> {
  let cp: unknown;
  if (o.offline) {
    cp = await withCore(async (core) => {
      if (o.sign) await core.audit.checkpoint();
      return core.audit.latestCheckpoint();
    });
  } else {
    if (o.sign) await callApi(session(), api.audit.signCheckpoint, { body: {} });
    cp = (await callApi(session(), api.audit.checkpoint)).checkpoint;
  }
  if (!cp) throw new ApiError(404, 'not_found', 'no checkpoint signed by a pinned key yet (try --sign)');
  const text = JSON.stringify(cp, null, 2) + '\n';
  if (o.out) {
    writeFileSync(o.out, text, { mode: 0o644 });
    const c = cp as { seq: number; ts: string };
    process.stderr.write(`wrote the checkpoint of event ${c.seq} (${c.ts}) to ${o.out}: keep it where the gateway cannot write, and check it with \`gatehouse audit verify --anchor ${o.out}\`\n`);
  } else process.stdout.write(text);
}

type RecordingAnswer = RecordingVerifyResponse;

export async function recordingVerify(target: string | undefined, o: { all?: boolean; offline?: boolean }, session: () => CliState): Promise<void> {
  if (!!target === !!o.all) throw new ApiError(400, 'invalid_request', 'give a session id, a recording file or --all');
  const ask = async (q: { sessions?: string[]; sha256?: string; all?: boolean }): Promise<RecordingAnswer> => {
    if (!o.offline) return callApi(session(), api.audit.verifyRecordings, { body: q });
    return withCore(async (core) => ({
      chain: await core.audit.verify(),
      items: await verifyRecordings(core.store, core.sessions.storage.kind === 'local' ? core.sessions.recordingsDir : core.sessions.storage, { ...(q.sessions ? { sessionIds: q.sessions } : {}), ...(q.sha256 ? { sha256: q.sha256 } : {}), ...(q.all ? { all: true } : {}) }),
    }));
  };
  // The chain alone, for a file that could be matched to no seal at all.
  const verifyChain = (): Promise<VerifyResult> => (o.offline ? withCore((core) => core.audit.verify()) : callApi(session(), api.audit.verify));
  let answer: RecordingAnswer;
  if (target && existsSync(target) && statSync(target).isFile()) {
    // A copy of a recording: find the seal with its hash, else the session its name names.
    // A copy that cannot be hashed (a damaged .gz) can only be matched by its name.
    const hash = await hashOrWhy(() => sha256File(target, { sniff: true }));
    const label = { file: target, sha256: 'sha256' in hash ? hash.sha256 : null };
    const bySha = 'sha256' in hash ? await ask({ sha256: hash.sha256 }) : null;
    if (bySha?.items.length) answer = { ...bySha, items: bySha.items.map((i) => ({ ...i, ...label, status: 'ok', message: `matches the seal of session ${i.sessionId} at audit event ${i.sealSeq}` })) };
    else {
      // <session>.cast, <session>.ghrec, or either compressed (.gz).
      const id = parseRecordingName(target)?.sessionId ?? basename(target, extname(target));
      const named = await ask({ sessions: [id] }).catch((e: { status?: number }) => (e.status === 404 ? null : Promise.reject(e)));
      const seal = named?.items.find((i) => i.sealedSha256);
      const unreadable = 'unreadable' in hash ? `cannot be read (${hash.unreadable})` : null;
      answer = {
        chain: bySha?.chain ?? named?.chain ?? (await verifyChain()),
        items: [
          seal
            ? { ...seal, ...label, status: 'differs', message: `${unreadable ? `${unreadable}, so it does` : 'does'} not match the seal of session ${id} at audit event ${seal.sealSeq}` }
            : { sessionId: null, ...label, status: 'unsealed', format: null, sealedSha256: null, sealSeq: null, message: unreadable ? `${unreadable}; no recording.seal event names it` : 'no recording.seal event has this SHA-256' },
        ],
      };
    }
  } else {
    answer = await ask(target ? { sessions: [target] } : { all: true });
  }
  const counts = new Map<RecordingStatus, number>();
  for (const i of answer.items) {
    counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
    process.stdout.write(`${i.status.padEnd(8)}  ${i.sessionId ?? '-'}  ${i.file}  ${i.message}\n`);
  }
  // 'deleted' (by retention) is named only when there are some, so the usual summary stays as it was.
  const order: RecordingStatus[] = ['ok', 'differs', 'missing', 'unsealed', 'live', ...(counts.get('deleted') ? (['deleted'] as const) : [])];
  process.stdout.write(`${answer.items.length} recording${answer.items.length === 1 ? '' : 's'}: ${order.map((s) => `${counts.get(s) ?? 0} ${s}`).join(', ')}\n`);
  if (!answer.chain.ok) process.stdout.write(`audit chain BROKEN: ${answer.chain.message}: the seals cannot be trusted\n`);
  if (!answer.chain.ok || answer.items.some((i) => isProblem(i.status))) process.exitCode = VERIFY_FAILED;
}
