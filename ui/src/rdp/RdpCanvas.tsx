// Paints an RDP screen onto a <canvas> whenever its picture or pointer changes (checked once
// per animation frame), with the pointer drawn in as the video export draws it, scaled by
// CSS to the width available with the aspect ratio kept.
import { useEffect, useRef } from 'react';
import { composeFrame, type RdpScreen } from './decoder.js';

export interface ScreenSource {
  readonly screen: RdpScreen;
  /** Moves whenever the picture changes. */
  readonly version: number;
}

export function RdpCanvas({ source, label }: { source: ScreenSource | null; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (!source) return;
    let raf = 0;
    let painted = '';
    let frame: ImageData | null = null;
    const paint = () => {
      raf = requestAnimationFrame(paint);
      const c = canvas.current;
      const s = source.screen;
      const key = `${source.version}:${s.pointerSerial}:${s.width}x${s.height}`;
      if (!c || key === painted) return;
      painted = key;
      if (c.width !== s.width || c.height !== s.height) {
        c.width = s.width;
        c.height = s.height;
      }
      if (!frame || frame.width !== s.width || frame.height !== s.height) frame = new ImageData(s.width, s.height);
      composeFrame(s, frame.data, s.width, s.height, true);
      c.getContext('2d')?.putImageData(frame, 0, 0);
    };
    raf = requestAnimationFrame(paint);
    return () => cancelAnimationFrame(raf);
  }, [source]);

  return (
    <div className="rdp-screen">
      {/* No width or height here: the paint loop sizes the canvas, and React setting either
          (even to the size the canvas already has, when the screen's size changed between two
          renders) clears its picture, which then stayed blank until the screen next changed. */}
      <canvas ref={canvas} className="rdp-canvas" role="img" aria-label={label} />
    </div>
  );
}
