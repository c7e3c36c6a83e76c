// The one place the browser takes the RDP decoder from (shared with the CLI export and the
// server's live keyframe; no Node.js APIs in it).
export { composeFrame, openRdpRecording, RdpRecordingError, RdpScreen, type RdpRecording, type ScreenSnapshot } from '../../../src/protocols/rdp/recording/decoder/index.js';
