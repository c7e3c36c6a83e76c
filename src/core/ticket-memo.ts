// What a launch decided for its ticket, kept in memory until the redeem or until the ticket
// expires: the policy it decided under, the consent given, the access level chosen. A node
// that restarts, or another node redeeming, finds nothing here and decides at redeem.
//
// Expired entries are dropped from the front at each new entry: a Map iterates in insertion
// order and tickets are remembered as they are issued, so the oldest come first and a launch
// does not walk every outstanding ticket (walking them all made launches quadratic under load).
// An entry behind a longer-lived one (the lifetime setting shortened meanwhile) waits for it,
// at most one ticket lifetime; a read never returns an expired entry.
export class TicketMemo<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  /** Remembers `value` for this ticket until `until` (epoch ms, the ticket's expiry). */
  set(ticketId: string, value: V, until: number): void {
    const now = Date.now();
    for (const [id, e] of this.entries) {
      if (e.until > now) break;
      this.entries.delete(id);
    }
    this.entries.set(ticketId, { value, until });
  }

  /** What is remembered for this ticket, unless it expired. */
  get(ticketId: string): V | undefined {
    const e = this.entries.get(ticketId);
    return e && e.until > Date.now() ? e.value : undefined;
  }

  /** get(), and forgotten. */
  take(ticketId: string): V | undefined {
    const v = this.get(ticketId);
    this.entries.delete(ticketId);
    return v;
  }

  delete(ticketId: string): void {
    this.entries.delete(ticketId);
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size;
  }
}
