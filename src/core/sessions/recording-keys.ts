// The data keys that seal a recording in object storage (Gatehouse-side encryption), as the
// database knows them (table recording_keys, migration 026). An object's header names its key,
// but whoever can write the bucket can write the header too, or leave it out: the object would
// then be played as plaintext. A key made for a recording is written here in the transaction
// that makes it, so a reader knows a recording was stored encrypted whatever the object says,
// and a delete knows which keys to remove without the object's word.
import type { Store } from '../../store/db.js';
import type { DataKeys } from '../vault/datakeys.js';
import { now } from '../util.js';

/** A new data key for the recording `rel`, and its row, in one transaction. */
function newRecordingKey(store: Store, dataKeys: DataKeys, rel: string): Promise<{ id: string; key: Buffer }> {
  return store.db.transaction().execute(async (trx) => {
    const dk = await dataKeys.create(trx);
    await trx.insertInto('recordingKeys').values({ dataKeyId: dk.id, rel, createdAt: now() }).execute();
    return dk;
  });
}

/** The keys made for the recording `rel`, oldest first (none: stored unencrypted, or before migration 026). */
export async function recordingKeyIds(store: Store, rel: string): Promise<string[]> {
  return (await store.db.selectFrom('recordingKeys').select('dataKeyId').where('rel', '=', rel).orderBy('createdAt').orderBy('dataKeyId').execute()).map((r) => r.dataKeyId);
}

/**
 * The key to seal the recording `rel` with, or null to store it plain. Sealed when this node
 * seals (`sealNew`) and in any case when it was stored sealed (encryption turned off since, or
 * a node of the cluster set otherwise): stored plain, it would be refused as replaced. The key
 * is the one that opens the object (`opens`, asked only when sealing), else the newest on record
 * (an earlier start whose upload was not recorded), else a new one (`made`).
 */
export async function sealingKey(store: Store, dataKeys: DataKeys, rel: string, o: { sealNew: boolean; opens?: () => Promise<string | null> }): Promise<{ id: string; key: Buffer; made: boolean } | null> {
  const known = (await recordingKeyIds(store, rel)).at(-1);
  if (!known && !o.sealNew) return null;
  const id = (await o.opens?.()) ?? known;
  if (id) return { id, key: await dataKeys.get(id), made: false };
  return { ...(await newRecordingKey(store, dataKeys, rel)), made: true };
}

/** Removes data keys of the recording `rel` and their rows (a key made for it serves it only). */
export async function dropRecordingKeys(store: Store, dataKeys: DataKeys, rel: string, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await store.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('recordingKeys').where('rel', '=', rel).where('dataKeyId', 'in', ids).execute();
    for (const id of ids) await dataKeys.remove(id, trx);
  });
}
