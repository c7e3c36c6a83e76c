// Touch on a narrow screen: the web client handles mouse and wheel events on its canvas,
// so touches become those. One finger: the pointer follows, a tap is a left click, a
// long press a right click; two fingers moving: the wheel (vertical and horizontal).
// Returns a function that removes the listeners.

const LONG_PRESS_MS = 550;
const TAP_SLOP_PX = 10;

export function touchToMouse(canvas: HTMLElement): () => void {
  let start: { x: number; y: number; t: number } | null = null;
  let moved = false;
  let pressTimer: ReturnType<typeof setTimeout> | null = null;
  let twoFinger: { x: number; y: number } | null = null;

  const mouse = (type: string, t: { clientX: number; clientY: number }, button = 0) =>
    canvas.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, composed: true, clientX: t.clientX, clientY: t.clientY, button, buttons: type === 'mouseup' ? 0 : button === 2 ? 2 : 1 }));
  const click = (t: { clientX: number; clientY: number }, button: number) => {
    mouse('mousemove', t);
    mouse('mousedown', t, button);
    mouse('mouseup', t, button);
  };
  const clearPress = () => {
    if (pressTimer) clearTimeout(pressTimer);
    pressTimer = null;
  };
  const mid = (e: TouchEvent) => ({ x: (e.touches[0]!.clientX + e.touches[1]!.clientX) / 2, y: (e.touches[0]!.clientY + e.touches[1]!.clientY) / 2 });

  const onStart = (e: TouchEvent) => {
    e.preventDefault();
    if (e.touches.length >= 2) {
      clearPress();
      start = null;
      twoFinger = mid(e);
      return;
    }
    const t = e.touches[0]!;
    start = { x: t.clientX, y: t.clientY, t: e.timeStamp };
    moved = false;
    mouse('mousemove', t);
    clearPress();
    pressTimer = setTimeout(() => {
      pressTimer = null;
      if (start && !moved) {
        click(t, 2);
        start = null;
      }
    }, LONG_PRESS_MS);
  };
  const onMove = (e: TouchEvent) => {
    e.preventDefault();
    if (twoFinger && e.touches.length >= 2) {
      const m = mid(e);
      const dx = twoFinger.x - m.x;
      const dy = twoFinger.y - m.y;
      twoFinger = m;
      canvas.dispatchEvent(new WheelEvent('wheel', { bubbles: true, cancelable: true, composed: true, clientX: m.x, clientY: m.y, deltaX: Math.abs(dx) > Math.abs(dy) ? dx : 0, deltaY: Math.abs(dx) > Math.abs(dy) ? 0 : dy, deltaMode: 0 }));
      return;
    }
    const t = e.touches[0];
    if (!t) return;
    if (start && Math.hypot(t.clientX - start.x, t.clientY - start.y) > TAP_SLOP_PX) {
      moved = true;
      clearPress();
    }
    mouse('mousemove', t);
  };
  const onEnd = (e: TouchEvent) => {
    e.preventDefault();
    clearPress();
    if (e.touches.length < 2) twoFinger = null;
    const t = e.changedTouches[0];
    if (start && !moved && t) click(t, 0);
    start = null;
  };
  const opts = { passive: false } as const;
  canvas.addEventListener('touchstart', onStart, opts);
  canvas.addEventListener('touchmove', onMove, opts);
  canvas.addEventListener('touchend', onEnd, opts);
  canvas.addEventListener('touchcancel', onEnd, opts);
  return () => {
    clearPress();
    canvas.removeEventListener('touchstart', onStart);
    canvas.removeEventListener('touchmove', onMove);
    canvas.removeEventListener('touchend', onEnd);
    canvas.removeEventListener('touchcancel', onEnd);
  };
}
