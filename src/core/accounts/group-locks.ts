// One change of an account's group memberships at a time, across the nodes of a cluster (table
// account_group_locks, migration 029). An access level's grant looks at which groups the
// account is in already and keeps its standing memberships out of what it later takes away; an
// undo looks at which groups the other grants still hold. Each look is only true until the
// change it decides: another grant's or undo's change in between would make it wrong (a group
// an undo is removing looks standing to a new grant; a grant not yet written looks absent to an
// undo). So both run under this lock: in this process a chain per account, across processes a
// row with a lease, taken by one insert (or by one update once the lease has run out).
import { isUniqueViolation, type Store } from '../../store/db.js';
import { AppError } from '../errors.js';
import { keepLease } from '../lease-keeper.js';
import { now } from '../util.js';

/** How long a node holds an account unrenewed: a few target commands, each bounded by the operator's timeout (renewed while they run). */
const LEASE_MS = 5 * 60_000;
/** How long a grant or undo waits for the account before it gives up (a launch is waiting). */
const WAIT_MS = 90_000;
const POLL_MS = 100;

export class GroupLocks {
  /** The tail of each account's chain in this process. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    /** This node (node-id.ts): no other process is it, so a row it holds that this process does not is a crash's. */
    private readonly node: string,
    private readonly waitMs: number = WAIT_MS,
    private readonly leaseMs: number = LEASE_MS,
  ) {}

  /** Runs `fn` holding the account: after the changes before it in this process, and while no other node holds it. */
  with<T>(secretId: string, accountName: string, fn: () => Promise<T>): Promise<T> {
    const key = `${secretId}\u0000${accountName}`;
    const before = this.chains.get(key) ?? Promise.resolve();
    const run = before.catch(() => {}).then(() => this.held(secretId, accountName, fn));
    const tail = run.catch(() => {});
    this.chains.set(key, tail);
    void tail.then(() => this.chains.get(key) === tail && this.chains.delete(key));
    return run;
  }

  private async held<T>(secretId: string, accountName: string, fn: () => Promise<T>): Promise<T> {
    await this.take(secretId, accountName);
    // The row is this holder's while it names this node: this process's chain runs one holder
    // of the account at a time, and another node takes it only by writing its own name. (Not
    // matched on the lease's end: a renewal committed whose answer was lost would make every
    // later renewal and the final delete miss it.)
    const lease = keepLease(this.leaseMs, async () => {
      const r = await this.store.db.updateTable('accountGroupLocks').set({ leaseUntil: now() + this.leaseMs }).where('secretId', '=', secretId).where('accountName', '=', accountName).where('leaseNode', '=', this.node).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    });
    try {
      return await fn();
    } finally {
      await lease.stop();
      await this.store.db.deleteFrom('accountGroupLocks').where('secretId', '=', secretId).where('accountName', '=', accountName).where('leaseNode', '=', this.node).execute();
    }
  }

  /** Takes the row. This process's chain runs one holder at a time, so a row of this node is left over from a crash. */
  private async take(secretId: string, accountName: string): Promise<void> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const t = now();
      const until = t + this.leaseMs;
      try {
        await this.store.db.insertInto('accountGroupLocks').values({ secretId, accountName, leaseNode: this.node, leaseUntil: until }).execute();
        return;
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      const r = await this.store.db
        .updateTable('accountGroupLocks')
        .set({ leaseNode: this.node, leaseUntil: until })
        .where('secretId', '=', secretId)
        .where('accountName', '=', accountName)
        .where((eb) => eb.or([eb('leaseUntil', '<', t), eb('leaseNode', '=', this.node)]))
        .executeTakeFirst();
      if (Number(r.numUpdatedRows)) return;
      if (Date.now() >= deadline) throw new AppError(503, 'account_busy', `another change of the groups of account ${accountName} (on another node) has not finished; try again later`);
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
  }
}
