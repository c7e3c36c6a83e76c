// Single-use launch tickets. The ticket string is 192 random bits, kept only as a hash;
// redeeming is one conditional UPDATE, so of N concurrent redeems exactly one wins on
// SQLite and PostgreSQL alike. Refusals carry an exact reason for the log and the audit
// trail; the client only ever hears a generic failure.
import type { Transaction } from 'kysely';
import type { Db, Store } from '../../store/db.js';
import { prepare, prepareInsert, type SlotOf } from '../../store/prepared.js';
import type { Database, TicketsTable } from '../../store/schema.js';
import { GroupCommit, ownQueue } from '../audit/group-commit.js';
import { TicketRefused } from '../broker.js';
import { newId, now, randomToken, sha256hex } from '../util.js';
import { normalizeIp, TICKET_PATTERN } from '../door-rules.js';
import type { LaunchDisplay } from './display.js';

// At every launch and redeem (prepared once: store/prepared.ts).
const insertTicket = prepareInsert('tickets');
const ticketByHash = prepare((db, slot: SlotOf<{ tokenHash: string }>) => db.selectFrom('tickets').selectAll().where('tokenHash', '=', slot('tokenHash')));
const useTicket = prepare((db, slot: SlotOf<{ id: string; sessionId: string; at: number }>) =>
  db.updateTable('tickets').set({ usedAt: slot('at'), sessionId: slot('sessionId') }).where('id', '=', slot('id')).where('usedAt', 'is', null).where('expiresAt', '>', slot('at')),
);

// Defined with the other door-facing rules; re-exported for the core and web layers that import them from here.
export { normalizeIp, TICKET_PATTERN };
const hash = (t: string) => sha256hex(`gatehouse-ticket:${t}`);

export interface IssueInput {
  userId: string;
  secretId: string;
  launcherId: string;
  clientIp: string | null;
  ttlSeconds: number;
  display?: LaunchDisplay;
  launchRequestId?: string;
  /** The access policy the launch decided under (LaunchPolicies.stamp). */
  policyVersion?: string;
}

/** One redeem's single-use update: this ticket, used now by this session. */
interface Use {
  id: string;
  sessionId: string;
}

export class Tickets {
  /**
   * The single-use updates of concurrent redeems share one transaction, so one durable commit
   * (one WAL fsync, which on SQLite stalls the event loop ~0.2 ms) serves all of them instead
   * of one each (group-commit.ts: each redeem still awaits its own answer, given only once the
   * transaction holding it committed; a failed batch is written again update by update). Two
   * redeems of one ticket in a batch: the first update takes it, the second finds it used.
   */
  private readonly uses = new GroupCommit<Use, number | null>(ownQueue(), (items) => this.commitUses(items));

  constructor(private readonly store: Store) {}

  /**
   * Draws a new ticket without storing it: `write` stores it, on the store or inside a
   * transaction (a launch writes it in the transaction of its audit event, so no ticket exists
   * that its launch event does not name, and a commit that fails takes both).
   */
  draw(input: IssueInput): { id: string; ticket: string; expiresAt: number; write: (db: Db | Transaction<Database>) => Promise<void> } {
    // The ticket is the ssh username: one starting with '-' would be read as an option
    // (`ssh -p 2222 -Xy…@host`), so such draws are redrawn (1 in 64; costs ~0.02 bits).
    let ticket = randomToken(24);
    while (ticket.startsWith('-')) ticket = randomToken(24);
    const id = newId();
    const createdAt = now();
    const expiresAt = createdAt + input.ttlSeconds * 1000;
    const row = { id, tokenHash: hash(ticket), userId: input.userId, secretId: input.secretId, launcherId: input.launcherId, clientIp: input.clientIp, createdAt, expiresAt, usedAt: null, sessionId: null, display: input.display ? JSON.stringify(input.display) : null, launchRequestId: input.launchRequestId ?? null, policyVersion: input.policyVersion ?? null };
    return { id, ticket, expiresAt, write: (db) => insertTicket(db, row) };
  }

  /** Draws and stores a ticket on its own (tests; a launch uses draw() and writes it with its audit event). */
  async issue(input: IssueInput): Promise<{ id: string; ticket: string; expiresAt: number }> {
    const { write, ...t } = this.draw(input);
    await write(this.store.db);
    return t;
  }

  /** Looks a ticket up without using it (for the reason of a refusal, and the IP check). */
  async peek(ticket: string): Promise<TicketsTable | undefined> {
    if (!TICKET_PATTERN.test(ticket)) return undefined;
    return ticketByHash.first(this.store.db, { tokenHash: hash(ticket) });
  }

  /** The issued tickets among these strings (used or not): where a misplaced ticket is looked for. */
  async findAmong(candidates: string[]): Promise<TicketsTable[]> {
    const hashes = candidates.filter((c) => TICKET_PATTERN.test(c)).map(hash);
    if (!hashes.length) return [];
    return this.store.db.selectFrom('tickets').selectAll().where('tokenHash', 'in', hashes).execute();
  }

  /** Uses a ticket up without a session (declined consent). */
  async void(id: string): Promise<void> {
    await this.store.db.updateTable('tickets').set({ usedAt: now() }).where('id', '=', id).where('usedAt', 'is', null).execute();
  }

  /**
   * Checks and consumes a ticket. A wrong client IP refuses without consuming, so a
   * stolen ticket tried from elsewhere does not lock out its owner.
   */
  async redeem(ticket: string, clientIp: string, sessionId: string, peeked?: TicketsTable): Promise<TicketsTable> {
    // `peeked`: the row a caller just read with peek() (the conditional UPDATE below is what decides, not this read).
    const row = peeked ?? (await this.peek(ticket));
    if (!row) throw new TicketRefused('unknown');
    if (row.usedAt) throw new TicketRefused('used');
    if (row.expiresAt <= now()) throw new TicketRefused('expired');
    if (row.clientIp && normalizeIp(row.clientIp) !== normalizeIp(clientIp)) throw new TicketRefused('ip_mismatch');
    const at = await this.uses.add({ id: row.id, sessionId });
    if (at === null) throw new TicketRefused('used');
    return { ...row, usedAt: at, sessionId };
  }

  /** Per update: the time the ticket was used at, or null when it was used already (or expired meanwhile). */
  private async commitUses(items: Use[]): Promise<(number | null)[]> {
    const use = async (db: Db, u: Use): Promise<number | null> => {
      const at = now();
      const r = await useTicket.run(db, { ...u, at });
      return Number(r.numAffectedRows ?? 0) === 1 ? at : null;
    };
    if (items.length === 1) return [await use(this.store.db, items[0]!)];
    return this.store.db.transaction().execute(async (trx) => {
      const out: (number | null)[] = [];
      for (const u of items) out.push(await use(trx, u));
      return out;
    });
  }
}
