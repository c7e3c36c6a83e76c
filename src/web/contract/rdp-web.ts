// Browser RDP (issue 14): the WebSocket IronRDP's web client connects to. The launch
// ticket is not in the URL: it travels inside the first message, the RDCleanPath request
// (its proxy auth token), which is why the route needs no sign-in, like the RDP door.
import { errors } from './schema.js';
import { route } from './route.js';

export const rdpWeb = {
  // Frames: binary only. First the RDCleanPath request (DER) from the browser and the
  // RDCleanPath response or error from Gatehouse, then raw RDP both ways.
  socket: route('GET', '/api/v1/rdp/socket', {
    tags: ['sessions'],
    summary: 'WebSocket for a browser RDP session (RDCleanPath, then RDP); the launch ticket is the RDCleanPath proxy auth token; consent=1 when the launcher records',
    security: [],
    querystring: { type: 'object', additionalProperties: false, properties: { consent: { type: 'string', enum: ['0', '1'] } } },
    response: { 101: { type: 'null', description: 'Switching to the WebSocket protocol' }, ...errors },
  }),
} as const;
