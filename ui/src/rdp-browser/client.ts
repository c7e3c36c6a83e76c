// IronRDP's web client, set up for Gatehouse: the <iron-remote-desktop> web component with
// the RDP backend (WASM, inlined in the package's JavaScript, so Vite bundles it as part
// of this chunk). The launch ticket is the RDCleanPath proxy auth token; the WebSocket is
// Gatehouse's browser RDP door. The client runs no CredSSP (Gatehouse logs on to the
// target with the vaulted credential and answers with TLS security) and gets a dummy user
// name and password: the real ones never reach the browser.
import '@devolutions/iron-remote-desktop';
import type { UserInteraction } from '@devolutions/iron-remote-desktop';
import { Backend, displayControl, enableCredssp, init } from '@devolutions/iron-remote-desktop-rdp';

export interface RdpClientOptions {
  host: HTMLElement;
  ticket: string;
  consent: boolean;
  width: number;
  height: number;
  clipboard: boolean;
  onWarning?: (text: string) => void;
}

export interface RdpClient {
  ui: UserInteraction;
  element: HTMLElement;
  /** Resolves with the reason when the session ends. */
  ended: Promise<string>;
}

let wasm: Promise<void> | null = null;

/** The WebSocket address of the browser RDP door on this origin. */
export const socketUrl = (consent: boolean): string => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/rdp/socket${consent ? '?consent=1' : ''}`;

/** The text of an error the web client throws (an IronError, or anything else). */
export function clientErrorText(e: unknown): string {
  if (e && typeof e === 'object' && 'backtrace' in e && typeof (e as { backtrace: unknown }).backtrace === 'function') {
    const err = e as { backtrace(): string; kind?(): number; rdcleanpathDetails?(): { httpStatusCode?: number } | undefined };
    const status = err.rdcleanpathDetails?.()?.httpStatusCode;
    if (status === 403) return 'The session could not be started: the launch may have expired or been used already. Launch again.';
    if (status === 502) return 'Gatehouse could not connect to the remote computer.';
    if (status === 400) return 'The browser and Gatehouse did not understand each other.';
    if (status) return `The session could not be started (${status}).`;
    return err.backtrace().split('\n')[0] ?? 'The remote desktop client failed.';
  }
  return e instanceof Error ? e.message : String(e);
}

/** How long the connection waits for the component's clipboard check (Firefox may hold it on its paste prompt). */
const CLIPBOARD_CHECK_WAIT_MS = 2_000;

/**
 * The clipboard check the component makes right after "ready": a permission query, or where
 * the browser has no 'clipboard-read' permission (Firefox) a first navigator.clipboard.read().
 * Watching that first read lets the connection wait for the check itself rather than guess
 * a delay; the component offers the clipboard channel only once its check is done.
 */
function watchFirstClipboardRead(): Promise<void> {
  const clip = navigator.clipboard as (Clipboard & { read?: Clipboard['read'] }) | undefined;
  if (!clip?.read) return Promise.resolve();
  const original = clip.read;
  return new Promise<void>((done) => {
    // Settles when the first read (made by the component, after this is set up) has settled.
    clip.read = function (this: Clipboard) {
      clip.read = original;
      const p = original.call(clip);
      p.then(
        () => done(),
        () => done(),
      );
      return p;
    };
  });
}

export async function startRdpClient(o: RdpClientOptions): Promise<RdpClient> {
  wasm ??= init('INFO');
  await wasm;
  const firstRead = o.clipboard ? watchFirstClipboardRead() : null;
  const el = document.createElement('iron-remote-desktop') as HTMLElement & { module?: unknown };
  // The backend is a property the component reads when it mounts: set before it enters the page.
  el.module = Backend;
  el.setAttribute('scale', 'fit');
  el.setAttribute('flexcenter', 'true');
  el.setAttribute('verbose', 'false');
  const ready = new Promise<UserInteraction>((resolve) => el.addEventListener('ready', (e) => resolve((e as CustomEvent<{ irgUserInteraction: UserInteraction }>).detail.irgUserInteraction), { once: true }));
  o.host.appendChild(el);
  const ui = await ready;
  // The component sets its clipboard up right after "ready" (a permission query first) and
  // offers the clipboard channel only once that is done: let it finish before connecting.
  if (o.clipboard) {
    const queried = await navigator.permissions?.query({ name: 'clipboard-read' as PermissionName }).then(
      () => true,
      () => false,
    );
    // Without the permission the component reads the clipboard once instead: wait for that read
    // (bounded: Firefox may hold it until the person answers its paste prompt).
    if (!queried) await Promise.race([firstRead, new Promise((r) => setTimeout(r, CLIPBOARD_CHECK_WAIT_MS))]);
    await new Promise((r) => setTimeout(r, 50));
  }
  ui.setEnableClipboard(o.clipboard);
  if (o.onWarning) ui.onWarningCallback(o.onWarning);
  const config = ui
    .configBuilder()
    .withUsername('gatehouse')
    .withPassword('-')
    .withDestination('gatehouse')
    .withProxyAddress(socketUrl(o.consent))
    .withAuthToken(o.ticket)
    .withDesktopSize({ width: o.width, height: o.height })
    .withExtension(enableCredssp(false))
    .withExtension(displayControl(true))
    .build();
  const info = await ui.connect(config);
  ui.setVisibility(true);
  const ended = info.run().then(
    (t) => t.reason(),
    (e: unknown) => clientErrorText(e),
  );
  return { ui, element: el, ended };
}
