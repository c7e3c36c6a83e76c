// The gateway nodes sharing this database (issue 16 point 1): each node registers itself at
// start (its node id, the address its peers reach it at, its version), beats every few seconds
// (heartbeat time and load: its live sessions) and says "stopped" at a clean shutdown. A node
// whose last beat is older than the dead timeout is dead: its sessions are ended as interrupted
// by the first live node to notice (recovery.ts), and nobody forwards to it any more.
// Times are the database's clock, not each node's, so skewed node clocks cannot make a live
// node look dead.
import { sql } from 'kysely';
import type { Store } from '../../store/db.js';
import type { ClusterNodesTable } from '../../store/schema.js';

export interface NodeTiming {
  /** How often this node beats. */
  heartbeatMs: number;
  /** A node silent this long is dead. */
  deadMs: number;
}

export interface ClusterNode {
  id: string;
  address: string | null;
  version: string;
  startedAt: number;
  heartbeatAt: number;
  load: number;
  status: 'up' | 'stopped' | 'dead';
}

export class NodeRegistry {
  constructor(
    private readonly store: Store,
    /** This node (node-id.ts). */
    readonly self: string,
    readonly timing: NodeTiming,
  ) {}

  /** The database's clock in epoch milliseconds (SQLite: this process's, it is the only machine). */
  async clock(): Promise<number> {
    if (this.store.kind !== 'postgres') return Date.now();
    const r = await sql<{ ms: number | string }>`select (extract(epoch from clock_timestamp()) * 1000)::bigint as ms`.execute(this.store.db);
    return Number(r.rows[0]!.ms);
  }

  /**
   * Before registering: no other process may be running as this node. Its id is the data dir's,
   * so the same data dir started twice (a manual start beside the service) or copied to a second
   * machine gives two processes one id, and the start-up recovery that follows registration
   * would end every live session of the other as interrupted (they carry this node's id). A row
   * still beating, not stopped and not dead, is either that or this node's own previous process
   * that crashed a moment ago: watched, a heartbeat that moves is another process, which this
   * start refuses to disturb. Two of this process's heartbeats first (another beating as often
   * shows itself then); a heartbeat still unmoved is watched on until the row is dead by the
   * dead timeout, as the other nodes would judge it: the other process's interval is its own
   * setting (a manual start with the default beside a service beating every 30 s), and a beat
   * may come late (one under way makes the loop skip a tick). So a restart within the dead
   * timeout of a crash waits until its last beat is that old; after a clean stop, it does not.
   */
  async ensureNotRunning(wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
    const row = () => this.store.db.selectFrom('clusterNodes').select(['heartbeatAt', 'status']).where('id', '=', this.self).executeTakeFirst();
    const before = await row();
    if (!before || before.status !== 'up' || (await this.clock()) - before.heartbeatAt > this.timing.deadMs) return;
    let ms = 2 * this.timing.heartbeatMs + 1000;
    for (;;) {
      await wait(ms);
      const after = await row();
      // Stopped cleanly meanwhile (or gone): nothing of it is left to disturb.
      if (!after || after.status !== 'up') return;
      if (after.heartbeatAt !== before.heartbeatAt) {
        throw Object.assign(
          new Error(
            `another gateway process is running as node ${this.self} (its heartbeat moved while this one waited): the same data dir started twice, or a copy of it on another machine. ` +
              'Stop the other process first; a second node needs a data dir of its own (its node-id file names it).',
          ),
          { code: 'node_in_use' },
        );
      }
      const silent = (await this.clock()) - after.heartbeatAt;
      if (silent > this.timing.deadMs) return;
      ms = Math.min(this.timing.heartbeatMs, this.timing.deadMs - silent + 1);
    }
  }

  /** Registers (or re-registers, after a restart) this node as up, beating now. */
  async register(address: string | null, version: string): Promise<void> {
    const at = await this.clock();
    await this.store.db
      .insertInto('clusterNodes')
      .values({ id: this.self, address, version, startedAt: at, heartbeatAt: at, load: 0, status: 'up' })
      .onConflict((oc) => oc.column('id').doUpdateSet({ address, version, startedAt: at, heartbeatAt: at, load: 0, status: 'up' }))
      .execute();
  }

  /** One heartbeat with this node's load. */
  async beat(load: number): Promise<void> {
    const at = await this.clock();
    // Not a row this node marked stopped: a beat still on its way when the stop wrote that
    // (its wait for the loops is bounded) must not make the node look up again.
    await this.store.db.updateTable('clusterNodes').set({ heartbeatAt: at, load }).where('id', '=', this.self).where('status', '=', 'up').execute();
  }

  /** A clean shutdown: this node's sessions have ended; it is not dead, just gone. */
  async stopped(): Promise<void> {
    await this.store.db.updateTable('clusterNodes').set({ status: 'stopped', load: 0 }).where('id', '=', this.self).execute();
  }

  private view(r: ClusterNodesTable, at: number): ClusterNode {
    const dead = r.status === 'up' && at - r.heartbeatAt > this.timing.deadMs;
    return { id: r.id, address: r.address, version: r.version, startedAt: r.startedAt, heartbeatAt: r.heartbeatAt, load: r.load, status: dead ? 'dead' : r.status };
  }

  /** Every node this database has seen, newest first. */
  async list(): Promise<ClusterNode[]> {
    const at = await this.clock();
    const rows = await this.store.db.selectFrom('clusterNodes').selectAll().orderBy('startedAt', 'desc').execute();
    return rows.map((r) => this.view(r, at));
  }

  async get(id: string): Promise<ClusterNode | null> {
    // The clock before the row, as list() and deadWithLiveSessions() read them: a wait between
    // the two (a pool connection, a slow query) then makes a beat look newer, never older: a
    // live node is not taken for dead (and its sessions reaped) because this node was slow.
    const at = await this.clock();
    const r = await this.store.db.selectFrom('clusterNodes').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? this.view(r, at) : null;
  }

  /**
   * Nodes other than this one whose heartbeat stopped (or that stopped without ending a session)
   * and that still have live sessions: theirs are to be ended as interrupted. A node never
   * registered here (a version from before nodes registered) is not known to be dead.
   */
  async deadWithLiveSessions(): Promise<string[]> {
    const cutoff = (await this.clock()) - this.timing.deadMs;
    const rows = await this.store.db
      .selectFrom('sessions')
      .innerJoin('clusterNodes', 'clusterNodes.id', 'sessions.node')
      .select('sessions.node')
      .distinct()
      .where('sessions.status', '=', 'live')
      .where('clusterNodes.id', '<>', this.self)
      .where((eb) => eb.or([eb('clusterNodes.heartbeatAt', '<', cutoff), eb('clusterNodes.status', '=', 'stopped')]))
      .execute();
    return rows.map((r) => r.node!).filter(Boolean);
  }
}
