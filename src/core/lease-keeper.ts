// Leases on rows that lock work across the nodes of a cluster (a rotation's secret_rotations
// row, an account's account_group_locks row) are renewed while the work runs. A lease is only
// a bound on how long a dead node blocks the others; without renewal, work that outlasts it
// (a target answering slowly, a few commands each near the operator's timeout) would let a
// second node take the row and run the same work beside it.

import { periodic } from './periodic.js';

/** Renews every third of `leaseMs` until stopped; `renew` answers false once the row is no longer held (it stops then). */
export function keepLease(leaseMs: number, renew: () => Promise<boolean>): { stop(): Promise<void> } {
  const renewing = periodic(
    async () => {
      // Not awaited here: stop() waits for this very run.
      if (!(await renew())) void renewing.stop();
    },
    Math.max(1, Math.floor(leaseMs / 3)),
    // A database error is no proof the lease is lost: the next turn tries again.
    () => {},
  );
  return renewing;
}
