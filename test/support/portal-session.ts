// What the portal browser tests (portal-access, portal-webservices) share around their pages:
// an API call that must succeed (its body, or the test fails naming the call and the answer)
// and a new Chromium context signed in to the portal on My access. Kept here so those tests
// say only what the portal pages do.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { newContext, signInPortal, type Ctx } from './browser.js';
import type { Gateway } from './gateway.js';

/** A call as the administrator (or `token`) that must answer below 300; its body. `gw` is read on each call. */
export const okApi =
  (gw: () => Gateway) =>
  async (method: string, path: string, body?: unknown, token = gw().adminToken): Promise<any> => {
    const r = await gw().api(method, path, { token, ...(body !== undefined ? { body } : {}) });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.raw}`);
    return r.body;
  };

/** A new browser context (pushed on `contexts` to be closed at the end) signed in as `username`; its page on My access. */
export async function signedInPage(browser: Browser, gw: Gateway, contexts: Ctx[], username: string, password: string): Promise<Page> {
  const c = await newContext(browser, gw.running.url);
  contexts.push(c);
  await signInPortal(c.page, username, password);
  return c.page;
}
