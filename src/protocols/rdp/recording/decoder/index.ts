// The RDP recording decoder: rebuilds the screen from a Gatehouse RDP recording (.ghrec,
// "rdp" format). Neutral code, bundled into the browser player as well as used by the CLI.
export { RdpScreen, type ScreenSnapshot } from './screen.js';
export { MAX_DESKTOP, MAX_SCREEN_PIXELS, screenSize } from '../desktop-size.js';
export {
  composeFrame,
  frameCount,
  frames,
  isAsciicast,
  openRdpRecording,
  RdpRecordingError,
  renderAt,
  type FrameOptions,
  type RdpRecording,
  type VideoFrame,
} from './playback.js';
export { defaultPointer, drawPointer, PointerState, type PointerShape } from './pointer.js';
