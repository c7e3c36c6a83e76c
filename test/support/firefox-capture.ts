// What Firefox received, for the no-password-byte scans (scan.ts wireLeaks) of the Firefox
// browser tests. Playwright hands the Chromium tests every WebSocket frame and response body;
// WebDriver BiDi has no WebSocket frame events, so a preload script (run in every page before
// the page's own scripts) wraps the page's WebSocket constructor and keeps a copy of every
// message the page's sockets receive, and BiDi's network data collector keeps every HTTP
// response body. The page's DOM text at the end counts too.
import type { Blob } from './scan.js';
import type { Firefox, FirefoxPage } from './firefox.js';

/**
 * Page-side: every socket the page makes is a subclass of the real WebSocket that listens to
 * its own messages first (the page's handlers are unchanged) and stores them in
 * window.__ghReceived, text as text and binary data as base64.
 */
const RECORD_WEBSOCKETS = `() => {
  const Real = window.WebSocket;
  if (!Real || window.__ghReceived) return;
  const got = [];
  Object.defineProperty(window, '__ghReceived', { value: got });
  const b64 = (u8) => {
    let s = '';
    for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
    return btoa(s);
  };
  class Recorded extends Real {
    constructor(...args) {
      super(...args);
      const url = String(args[0]);
      this.addEventListener('message', (e) => {
        const d = e.data;
        if (typeof d === 'string') got.push({ url, text: d });
        else if (d instanceof ArrayBuffer) got.push({ url, b64: b64(new Uint8Array(d)) });
        else if (d && typeof d.arrayBuffer === 'function') {
          const slot = { url, b64: '' };
          got.push(slot);
          d.arrayBuffer().then((b) => (slot.b64 = b64(new Uint8Array(b))));
        }
      });
    }
  }
  window.WebSocket = Recorded;
}`;

export interface FirefoxReceived {
  /** Every WebSocket message this page's sockets received so far (read before the page navigates away). */
  frames(page: FirefoxPage): Promise<Blob[]>;
  /** Every HTTP response body Firefox received so far. */
  bodies(): Promise<Blob[]>;
  /** The page's frames, every body, and the page's DOM text. */
  all(page: FirefoxPage): Promise<Blob[]>;
}

/** Starts recording what Firefox receives; call before opening the pages to scan. */
export async function captureReceived(ff: Firefox): Promise<FirefoxReceived> {
  const responses: { id: string; name: string }[] = [];
  ff.bidi.on('network.responseCompleted', (e) => {
    let path = e.request.url;
    try {
      path = new URL(e.request.url).pathname;
    } catch {
      /* data: and the like */
    }
    responses.push({ id: e.request.request, name: `${e.request.method} ${path}` });
  });
  await ff.bidi.send('network.addDataCollector', { dataTypes: ['response'], maxEncodedDataSize: 64 * 1024 * 1024 });
  await ff.bidi.send('session.subscribe', { events: ['network.responseCompleted'] });
  await ff.bidi.send('script.addPreloadScript', { functionDeclaration: RECORD_WEBSOCKETS });

  const frames = async (page: FirefoxPage): Promise<Blob[]> => {
    const out: Blob[] = [];
    const count = (await page.evaluate('() => (window.__ghReceived ? window.__ghReceived.length : -1)')) as number;
    if (count < 0) throw new Error('the page has no WebSocket recorder (was captureReceived called before it loaded?)');
    for (let from = 0; from < count; from += 200) {
      const batch = (await page.evaluate('(from) => window.__ghReceived.slice(from, from + 200)', from)) as { url: string; text?: string; b64?: string }[];
      batch.forEach((f, i) => out.push({ name: `websocket frame #${from + i + 1} from ${f.url.replace(/\?.*$/, '')}`, data: f.text !== undefined ? Buffer.from(f.text, 'utf8') : Buffer.from(f.b64 ?? '', 'base64') }));
    }
    return out;
  };
  const bodies = async (): Promise<Blob[]> => {
    const out: Blob[] = [];
    for (const r of responses) {
      // A response without a body (a redirect, a 204, a WebSocket upgrade) has no data to get.
      const got = await ff.bidi.send('network.getData', { dataType: 'response', request: r.id }).catch(() => null);
      if (got) out.push({ name: r.name, data: got.bytes.type === 'base64' ? Buffer.from(got.bytes.value, 'base64') : Buffer.from(got.bytes.value, 'utf8') });
    }
    return out;
  };
  return {
    frames,
    bodies,
    all: async (page) => [...(await frames(page)), ...(await bodies()), { name: 'the page', data: Buffer.from((await page.evaluate('() => document.documentElement.outerHTML')) as string, 'utf8') }],
  };
}
