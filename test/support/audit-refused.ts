// The audit table refusing new rows (a full disk, a lost database), on either database: a
// trigger that raises on every insert into audit_events, there only while fn runs. For tests
// of what fails closed, or is left for a later try, when the audit cannot be written; or
// only the events of one action (whileActionRefused).
import { sql } from 'kysely';
import type { Store } from '../../src/store/db.js';

export function whileAuditRefused<T>(store: Store, message: string, fn: () => Promise<T>): Promise<T> {
  return whileRefused(store, 'audit_refused', message, null, fn);
}

/** As whileAuditRefused, for events of one action only (the others are written). */
export function whileActionRefused<T>(store: Store, action: string, fn: () => Promise<T>): Promise<T> {
  return whileRefused(store, 'action_refused', `${action} refused on purpose`, action, fn);
}

/** A trigger `name` refusing inserts into audit_events (of `action` only, unless null) with `message`, while fn runs. */
async function whileRefused<T>(store: Store, name: string, message: string, action: string | null, fn: () => Promise<T>): Promise<T> {
  const db = store.db;
  const quote = (v: string) => v.replace(/'/g, "''");
  if (store.kind === 'sqlite') {
    const when = action === null ? sql`` : sql`when new.action = ${sql.lit(action)}`;
    await sql`create trigger ${sql.raw(name)} before insert on audit_events ${when} begin select raise(abort, ${sql.lit(message)}); end`.execute(db);
  } else {
    const body = action === null ? `begin raise exception '${quote(message)}'; end` : `begin if new.action = '${quote(action)}' then raise exception '${quote(message)}'; end if; return new; end`;
    await sql`create function ${sql.raw(name)}() returns trigger language plpgsql as ${sql.lit(body)}`.execute(db);
    await sql`create trigger ${sql.raw(name)} before insert on audit_events for each row execute function ${sql.raw(name)}()`.execute(db);
  }
  try {
    return await fn();
  } finally {
    if (store.kind === 'sqlite') await sql`drop trigger ${sql.raw(name)}`.execute(db);
    else {
      await sql`drop trigger ${sql.raw(name)} on audit_events`.execute(db);
      await sql`drop function ${sql.raw(name)}()`.execute(db);
    }
  }
}
