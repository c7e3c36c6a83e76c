// Process-wide memory settings of a gateway node, applied once at start (server.ts).
//
// Buffer pooling is off. Node hands out every small Buffer (allocUnsafe, from(string), concat
// under 4 KiB) as a slice of a shared 8 KiB slab, and a slab stays allocated for as long as
// any slice of it lives. A gateway holds thousands of long-lived connections, and each one
// keeps a few tiny Buffers for its whole life (ssh2's per-connection GCM tag and key
// material, channel and header bits, …), allocated between the short-lived packets of its
// handshake: so each such tiny Buffer pinned a slab of its own, about 8–16 KiB of native
// memory per idle session (docs/performance.md, section 4). Unpooled, a small Buffer costs
// its own size plus ~100 bytes of bookkeeping, and garbage is freed as soon as it is
// collected. Bulk data is not affected (the pool only ever served Buffers under 4 KiB;
// packets of a busy session are up to 32 KiB) and the cost for small ones is a malloc
// instead of a slice, which nothing in the relay path measured.
export function tuneProcessMemory(): void {
  Buffer.poolSize = 0;
}
