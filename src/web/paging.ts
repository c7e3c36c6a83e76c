// Paging of the short lists a service returns whole (templates, launchers, tokens, keys).
// The schemas themselves live in the API contract (./contract/), the one place request and
// answer shapes are stated.

export interface PageQuery {
  limit: number;
  offset: number;
}

/** One page of a list the service returns whole. */
export const pageOf = <T>(all: T[], q: PageQuery): { items: T[]; total: number; limit: number; offset: number } => ({
  items: all.slice(q.offset, q.offset + q.limit),
  total: all.length,
  limit: q.limit,
  offset: q.offset,
});
