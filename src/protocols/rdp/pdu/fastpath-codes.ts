// Fast-path output update codes (MS-RDPBCGR 2.2.9.1.2.1). Neutral (no Buffer): the relay's
// parser and the recording decoder, which also runs in the browser, share them.

export const FASTPATH_UPDATE = {
  ORDERS: 0x0,
  BITMAP: 0x1,
  PALETTE: 0x2,
  SYNCHRONIZE: 0x3,
  SURFCMDS: 0x4,
  PTR_NULL: 0x5,
  PTR_DEFAULT: 0x6,
  PTR_POSITION: 0x8,
  COLOR: 0x9,
  CACHED: 0xa,
  POINTER: 0xb,
  LARGE_POINTER: 0xc,
} as const;

export const FASTPATH_FRAGMENT = { SINGLE: 0, LAST: 1, FIRST: 2, NEXT: 3 } as const;
