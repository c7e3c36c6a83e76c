// Which issuer URLs an administrator may configure: https, or plain http only to a loopback
// host (a provider on the same machine, as the tests run one). The string is kept as given:
// discovery compares it, character for character, with the `issuer` the provider states.
import { badRequest } from '../../errors.js';

const LOOPBACK = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/i;

export const isLoopbackHost = (hostname: string): boolean => LOOPBACK.test(hostname);

export function checkIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw badRequest('issuer must be a URL (https://…)');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) throw badRequest('issuer must be an https URL (plain http only to a loopback address)');
  if (url.username || url.password || url.search || url.hash) throw badRequest('issuer must not carry credentials, a query or a fragment');
  return issuer;
}
