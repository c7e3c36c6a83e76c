// A change another service prepares to be saved inside a vault update's transaction, so that
// one PATCH of a secret or folder is all-or-nothing: e.g. attaching an access policy
// (core/access/policies.ts) together with a rename or a move. Every check is made while
// preparing it; apply() only writes, audit() runs after the commit (the audit chain takes
// its own transaction, which may not nest inside another on SQLite).
import type { Db } from '../../store/db.js';

export interface JoinedChange {
  apply(trx: Db): Promise<void>;
  audit(): Promise<void>;
}
