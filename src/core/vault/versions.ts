// A secret's earlier values (issue 12): every change of its fields (an edit, a password
// rotation) first keeps the current set as the next version, sealed under the secret's own
// data key with an AAD naming the version, so an old value can be recovered by an owner and
// a sealed version cannot pass for the current value or another version.
import type { Db, Store } from '../../store/db.js';
import type { Secret } from '../../store/schema.js';
import { notFound } from '../errors.js';
import { now, parseJson } from '../util.js';
import type { DataKeys } from './datakeys.js';

export const secretAad = (id: string) => `secret:${id}`;
const versionAad = (id: string, v: number) => `secret:${id}:v${v}`;

export interface VersionMeta {
  version: number;
  reason: string;
  replacedBy: { id: string; name: string } | null;
  replacedAt: string;
  fields: string[];
}

export class SecretVersions {
  constructor(
    private readonly store: Store,
    private readonly dataKeys: DataKeys,
  ) {}

  /** Inside the caller's transaction: keeps `secret`'s current values as its next version; answers the number. */
  async keep(trx: Db, secret: Secret, reason: string, by: { id: string; name: string } | null): Promise<number> {
    const plain = await this.dataKeys.decrypt(secret.dataKeyId, secret.fieldsEnc, secretAad(secret.id), trx);
    const last = await trx.selectFrom('secretVersions').select((eb) => eb.fn.max('version').as('v')).where('secretId', '=', secret.id).executeTakeFirst();
    const version = Number(last?.v ?? 0) + 1;
    const sealed = await this.dataKeys.reseal(secret.dataKeyId, plain, versionAad(secret.id, version), trx);
    await trx
      .insertInto('secretVersions')
      .values({ secretId: secret.id, version, publicFields: secret.publicFields, fieldsEnc: sealed, reason, replacedBy: by?.id ?? null, replacedByName: by?.name ?? null, createdAt: now() })
      .execute();
    return version;
  }

  async count(secretId: string): Promise<number> {
    const r = await this.store.db.selectFrom('secretVersions').select((eb) => eb.fn.countAll<number>().as('n')).where('secretId', '=', secretId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async list(secretId: string, limit: number, offset: number): Promise<{ items: VersionMeta[]; total: number }> {
    const rows = await this.store.db.selectFrom('secretVersions').selectAll().where('secretId', '=', secretId).orderBy('version', 'desc').limit(limit).offset(offset).execute();
    const items = rows.map((r) => {
      const pub = parseJson<Record<string, unknown>>(r.publicFields, {});
      const set = (pub.__set ?? {}) as Record<string, 1>;
      delete pub.__set;
      return {
        version: r.version,
        reason: r.reason,
        replacedBy: r.replacedBy ? { id: r.replacedBy, name: r.replacedByName ?? '' } : null,
        replacedAt: new Date(r.createdAt).toISOString(),
        fields: [...Object.keys(pub), ...Object.keys(set)],
      };
    });
    return { items, total: await this.count(secretId) };
  }

  /** The version's values, secret ones decrypted: for an owner's audited reveal only. */
  async values(secret: Secret, version: number): Promise<Record<string, string | number>> {
    const r = await this.store.db.selectFrom('secretVersions').selectAll().where('secretId', '=', secret.id).where('version', '=', version).executeTakeFirst();
    if (!r) throw notFound('version');
    const pub = parseJson<Record<string, string | number>>(r.publicFields, {});
    delete pub.__set;
    const sec = JSON.parse(await this.dataKeys.decrypt(secret.dataKeyId, r.fieldsEnc, versionAad(secret.id, version))) as Record<string, string>;
    return { ...pub, ...sec };
  }
}
