// The CLI's consent prompt (src/cli/consent.ts) with injected streams: only "yes" agrees,
// and the end of input declines. The same prompt on a real pseudo-terminal, against a real
// server, is in test/cli/consent-cli.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { askConsent, CONSENT_QUESTION } from '../../src/cli/consent.js';

function ask(typed: string | null): Promise<{ agreed: boolean; shown: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => (shown += d.toString()));
  const p = askConsent('  Recorded session.  ', { input, output });
  if (typed === null) input.end();
  else input.write(typed);
  return p.then((agreed) => ({ agreed, shown }));
}

describe('CLI consent prompt', () => {
  it('shows the text and the question; "yes" in any case agrees', async () => {
    for (const typed of ['yes\n', ' YES \n', 'Yes\r\n']) {
      const r = await ask(typed);
      assert.equal(r.agreed, true, JSON.stringify(typed));
      assert.ok(r.shown.startsWith(`Recorded session.\n${CONSENT_QUESTION}`), r.shown);
    }
  });

  it('anything else, an empty line, or the end of input declines', async () => {
    for (const typed of ['no\n', 'y\n', 'yes please\n', '\n', null]) assert.equal((await ask(typed)).agreed, false, JSON.stringify(typed));
  });
});
