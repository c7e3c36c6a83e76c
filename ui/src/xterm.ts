// xterm.js set-up shared by the browser terminal and the live view.
import { Terminal, type ITerminalOptions } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';

export const TERMINAL_THEME = {
  background: '#0f1720',
  foreground: '#d8dee9',
  cursor: '#e5e9f0',
  cursorAccent: '#0f1720',
  selectionBackground: '#3b5b85',
  black: '#1c2430',
  red: '#e06c75',
  green: '#98c379',
  yellow: '#e5c07b',
  blue: '#61afef',
  magenta: '#c678dd',
  cyan: '#56b6c2',
  white: '#d8dee9',
  brightBlack: '#5c6773',
  brightRed: '#f28b82',
  brightGreen: '#b5e08f',
  brightYellow: '#f2d58f',
  brightBlue: '#8cc8ff',
  brightMagenta: '#dfa3f0',
  brightCyan: '#7fd6e0',
  brightWhite: '#ffffff',
};

export const MONO = 'ui-monospace, "Cascadia Mono", "SF Mono", "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace';

export function createTerminal(container: HTMLElement, opts: ITerminalOptions = {}): { term: Terminal; fit: FitAddon } {
  const term = new Terminal({
    fontFamily: MONO,
    fontSize: 14,
    lineHeight: 1.15,
    cursorBlink: true,
    scrollback: 5000,
    theme: TERMINAL_THEME,
    allowTransparency: false,
    macOptionIsMeta: true,
    ...opts,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  try {
    fit.fit();
  } catch {
    /* container not laid out yet */
  }
  return { term, fit };
}

/** Fits the terminal to its container whenever the container changes size. */
export function autoFit(container: HTMLElement, fit: FitAddon): () => void {
  let frame = 0;
  const ro = new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      try {
        fit.fit();
      } catch {
        /* hidden */
      }
    });
  });
  ro.observe(container);
  return () => {
    cancelAnimationFrame(frame);
    ro.disconnect();
  };
}
