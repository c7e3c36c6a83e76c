// The live view of an RDP session inside the Watch page: the screen on a canvas, fed by the
// page's event stream through an RdpLiveFeed. Read only: nothing here sends input.
import './rdp.css';
import { useEffect, useState } from 'react';
import { RdpCanvas } from './RdpCanvas';
import { RdpLiveFeed, type LiveHeader, type PngDecoder } from './stream';

/** PNG → RGBA with the browser's own decoder (no colour conversion: the pixels as sent). */
export const decodePngInBrowser: PngDecoder = async (png) => {
  const bitmap = await createImageBitmap(new Blob([png], { type: 'image/png' }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = document.createElement('canvas');
  c.width = bitmap.width;
  c.height = bitmap.height;
  const ctx = c.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: ctx.getImageData(0, 0, c.width, c.height).data, width: c.width, height: c.height };
};

export function createLiveFeed(header: LiveHeader, onChange?: () => void): RdpLiveFeed {
  return new RdpLiveFeed(header, decodePngInBrowser, onChange);
}

export function RdpLive({ feed }: { feed: RdpLiveFeed }) {
  // Re-renders only for the notes below; the canvas repaints on its own.
  const [, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [feed]);
  const s = feed.screen;
  return (
    <div className="rdp-live" style={{ ['--rdp-aspect' as string]: String(s.width / s.height) }}>
      {!feed.header.recorded ? (
        <p className="rdp-live-note" role="status">
          This launcher does not record RDP sessions, so there is no picture to watch. Nobody can join the session either: a joiner sees the desktop through its recording. You can still terminate the session.
        </p>
      ) : (
        <>
          <RdpCanvas source={feed} label="Live screen" />
          <p className="rdp-live-note">
            {s.width}×{s.height}
            {feed.keyframeState === 'none' || feed.keyframeState === 'failed' ? ' · the picture fills in as the screen changes' : ''}
          </p>
        </>
      )}
    </div>
  );
}
