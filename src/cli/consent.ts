// Consent to recording from the command line. `gatehouse launch <secret> --consent` agrees up
// front; without it, when the secret's access policy requires consent and stdin is a
// terminal, the CLI shows the policy's text and asks once (as the portal's launch dialog
// does). Without a terminal nothing is asked: the API's answer says why and how, as before.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { CONSENT_AT_LAUNCH_MESSAGE } from '../core/access/consent.js';
import { ApiError } from './client.js';

export const CONSENT_QUESTION = 'Type yes to agree to the recording: ';

/** Shows the consent text and reads one line; only "yes" (any case, trimmed) agrees. End of input declines. */
export function askConsent(text: string, io: { input: Readable; output: Writable }): Promise<boolean> {
  return new Promise((resolve) => {
    io.output.write(`${text.trim()}\n`);
    const rl = createInterface({ input: io.input, output: io.output });
    let answered = false;
    rl.question(CONSENT_QUESTION, (a) => {
      answered = true;
      rl.close();
      resolve(a.trim().toLowerCase() === 'yes');
    });
    rl.once('close', () => {
      if (!answered) {
        io.output.write('\n');
        resolve(false);
      }
    });
  });
}

/** A launch answer, as far as consent goes. */
interface Launched {
  ticket: string;
  consent: { given?: boolean; text: string };
}

/**
 * Runs a launch without consent; when the policy needs it, asks (`ask` shows the text) and
 * launches again with consent. An RDP launch is refused without consent (403
 * consent_required, the text in the message), so no ticket exists yet; an SSH launch answers
 * with a ticket marked consent.given false, which a "no" declines (voided, audited) and a
 * "yes" leaves to expire unused (a consented ticket replaces it; declining would audit a
 * refusal the person did not make). An RDP "no" is sent as a launch with consent false, which
 * the API refuses and audits (session.consent_declined). Null: the person declined, no launch was made.
 */
export async function launchWithConsentPrompt<T extends Launched>(launch: (consent?: boolean) => Promise<T>, ask: (text: string) => Promise<boolean>, decline: (ticket: string) => Promise<void>): Promise<T | null> {
  let first: T;
  try {
    first = await launch();
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'consent_required') throw e;
    const text = e.message.startsWith(CONSENT_AT_LAUNCH_MESSAGE) ? e.message.slice(CONSENT_AT_LAUNCH_MESSAGE.length).trim() : e.message;
    if (await ask(text)) return launch(true);
    // No ticket exists yet (RDP): a launch that answers no is what audits the refusal (403 consent_declined).
    await launch(false).catch(() => undefined);
    return null;
  }
  if (first.consent.given !== false) return first;
  if (await ask(first.consent.text)) return launch(true);
  await decline(first.ticket);
  return null;
}
