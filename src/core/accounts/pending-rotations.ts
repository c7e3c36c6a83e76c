// The rotations under way (table secret_rotations, migration 028): one row per secret whose
// password is being changed on its target, written before the change with the new password
// sealed under the secret's data key, deleted once the outcome is stored. The row is what
// survives a crash between the change and the store (the sweeper in rotation.ts settles it)
// and the lock that lets one node of a cluster rotate a secret at a time.
import { isUniqueViolation, type Store } from '../../store/db.js';
import { prepare, type SlotOf } from '../../store/prepared.js';
import type { SecretRotationsTable } from '../../store/schema.js';
import { keepLease } from '../lease-keeper.js';
import { now } from '../util.js';
import type { Secrets } from '../vault/secrets.js';

export type PendingRotation = SecretRotationsTable;

// Read at every redeem (a launch waits for a rotation of its secret; prepared once: store/prepared.ts).
const rotationOfSecret = prepare((db, slot: SlotOf<{ secretId: string }>) => db.selectFrom('secretRotations').selectAll().where('secretId', '=', slot('secretId')));

/** AAD purpose of the sealed pending password (a value sealed for anything else does not open as one). */
const PURPOSE = 'rotation';

/**
 * How long a node holds a rotation unrenewed: a few target commands (change, check, undo), each
 * bounded by the operator's timeout; renewed while they run (keep). A node that dies holding one
 * leaves it to the others' sweepers once this has run out; its own restart takes it back at
 * once (no other process is this node).
 */
export const ROTATION_LEASE_MS = 10 * 60_000;

export class PendingRotations {
  constructor(
    private readonly store: Store,
    private readonly secrets: Secrets,
    /** This node (node-id.ts): whose leases are its own. */
    readonly node: string,
    private readonly leaseMs: number = ROTATION_LEASE_MS,
  ) {}

  /** Renews the row's lease while its rotation runs (until stopped, or the row is no longer this node's). */
  keep(row: PendingRotation): { stop(): Promise<void> } {
    return keepLease(this.leaseMs, async () => {
      const r = await this.store.db
        .updateTable('secretRotations')
        .set({ leaseUntil: now() + this.leaseMs })
        .where('secretId', '=', row.secretId)
        .where('startedAt', '=', row.startedAt)
        .where('leaseNode', '=', this.node)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    });
  }

  /** Writes the row before the target is changed; null when another rotation of the secret holds one. */
  async claim(secretId: string, trigger: string, password: string): Promise<PendingRotation | null> {
    const t = now();
    const row: PendingRotation = { secretId, trigger, startedAt: t, pendingEnc: await this.secrets.sealFor(secretId, PURPOSE, password), leaseNode: this.node, leaseUntil: t + this.leaseMs, message: null };
    try {
      await this.store.db.insertInto('secretRotations').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) return null;
      throw e;
    }
    return row;
  }

  get(secretId: string): Promise<PendingRotation | undefined> {
    return rotationOfSecret.first(this.store.db, { secretId });
  }

  /** The new password the row holds (server-side only). */
  pending(row: PendingRotation): Promise<string> {
    return this.secrets.openFor(row.secretId, PURPOSE, row.pendingEnc);
  }

  /** The outcome is stored (or the target is known to hold the old password): the row goes. */
  async done(row: PendingRotation): Promise<void> {
    await this.store.db.deleteFrom('secretRotations').where('secretId', '=', row.secretId).where('startedAt', '=', row.startedAt).execute();
  }

  /** Not settled (no answer from the target): the lease is let go, so the next sweep of any node tries again. */
  async unsettled(row: PendingRotation, message: string): Promise<void> {
    await this.store.db.updateTable('secretRotations').set({ leaseNode: null, leaseUntil: 0, message }).where('secretId', '=', row.secretId).where('startedAt', '=', row.startedAt).execute();
  }

  /**
   * Rows nobody works on: the lease ran out (a dead node's, or one let go), or this node holds
   * it but `mine` says this process does not (a crash of this node's previous process).
   */
  async orphans(mine: (secretId: string) => boolean): Promise<PendingRotation[]> {
    const rows = await this.store.db
      .selectFrom('secretRotations')
      .selectAll()
      .where((eb) => eb.or([eb('leaseUntil', '<', now()), eb('leaseNode', '=', this.node)]))
      .orderBy('startedAt')
      .execute();
    return rows.filter((r) => r.leaseUntil < now() || !mine(r.secretId));
  }

  /** Takes an orphan with one conditional update (one node settles it); the taken row, or null. */
  async take(row: PendingRotation): Promise<PendingRotation | null> {
    const until = now() + this.leaseMs;
    const r = await this.store.db
      .updateTable('secretRotations')
      .set({ leaseNode: this.node, leaseUntil: until })
      .where('secretId', '=', row.secretId)
      .where('startedAt', '=', row.startedAt)
      .where('leaseUntil', '=', row.leaseUntil)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) ? { ...row, leaseNode: this.node, leaseUntil: until } : null;
  }
}
