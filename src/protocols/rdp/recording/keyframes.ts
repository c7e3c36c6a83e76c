// The live view's keyframes of RDP sessions: the core follows a live "rdp" recording and
// asks this screen for the picture so far (src/core/sessions/keyframes.ts). Registered by
// the server for the "rdp" format, so the core itself never decodes RDP. Whatever the
// recording says, the screen kept is at most MAX_SCREEN_PIXELS (RdpScreen fits every size to it).
import type { GhrecHeader } from '../../../core/sessions/ghrec.js';
import type { Keyframe, KeyframeProvider } from '../../../core/sessions/keyframes.js';
import { RdpScreen } from './decoder/index.js';
import { encodePng } from './png.js';

export class RdpKeyframeScreen extends RdpScreen {
  keyframe(): Keyframe {
    return { width: this.width, height: this.height, png: encodePng(this.rgba, this.width, this.height).toString('base64') };
  }
}

/** The screen for one recording, sized by its header until a DESKTOP record says otherwise. */
export const rdpKeyframes: KeyframeProvider = (h: GhrecHeader) => new RdpKeyframeScreen(Number(h.width) || 1024, Number(h.height) || 768, Number(h.colorDepth) || 32);
