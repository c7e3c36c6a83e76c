// Shared control of live SSH/Telnet sessions (issue 14 point 6; rules in
// src/core/sessions/sharing.ts): join requests the owner answers, invitations, the joiner's
// WebSocket terminal, leaving and kicking.
import { body, errors, obj, page, pageQuery, str, text, time } from './schema.js';
import { route } from './route.js';

export const JOIN_STATUSES = ['pending', 'accepted', 'declined', 'joined', 'left', 'kicked', 'ended'] as const;
export const JOIN_VIAS = ['request', 'invite'] as const;

const person = obj({ id: text, username: text });
export const joinSchema = obj({
  id: text,
  sessionId: text,
  /** Who joins. */
  user: person,
  /** Whose session it is. */
  owner: person,
  secret: text,
  protocol: text,
  via: { type: 'string', enum: JOIN_VIAS },
  status: { type: 'string', enum: JOIN_STATUSES },
  createdAt: time,
});
const sessionParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: str(128) } } as const;
const joinParams = { type: 'object', required: ['id', 'joinId'], additionalProperties: false, properties: { id: str(128), joinId: str(128) } } as const;

export const sharing = {
  request: route('POST', '/api/v1/sessions/:id/join-requests', {
    tags: ['sessions'],
    summary: "Ask to join someone's live session (needs join_sessions; the launcher must allow join requests); the owner is asked in the session's window",
    params: sessionParams,
    response: { 201: joinSchema, ...errors },
  }),
  invite: route('POST', '/api/v1/sessions/:id/invites', {
    tags: ['sessions'],
    summary: 'The session owner invites another person to join (the launcher must allow join invites)',
    params: sessionParams,
    body: body({ user: str(128) }, ['user']),
    response: { 201: joinSchema, ...errors },
  }),
  list: route('GET', '/api/v1/sessions/:id/joins', {
    tags: ['sessions'],
    summary: "A live session's join requests, invitations and joiners (its owner, or a session manager)",
    params: sessionParams,
    querystring: pageQuery(),
    response: { 200: page(joinSchema), ...errors },
  }),
  mine: route('GET', '/api/v1/me/joins', { tags: ['sessions'], summary: 'Your open joins: invitations to take up, requests waiting for an answer, sessions you are in', querystring: pageQuery(), response: { 200: page(joinSchema), ...errors } }),
  toAnswer: route('GET', '/api/v1/me/join-requests', {
    tags: ['sessions'],
    summary: 'Join requests waiting for your answer on your live sessions (where a session window cannot show them: native RDP and SSH clients, and the browser RDP page)',
    querystring: pageQuery(),
    response: { 200: page(joinSchema), ...errors },
  }),
  accept: route('POST', '/api/v1/sessions/:id/joins/:joinId/accept', { tags: ['sessions'], summary: 'The session owner accepts a join request', params: joinParams, response: { 200: joinSchema, ...errors } }),
  decline: route('POST', '/api/v1/sessions/:id/joins/:joinId/decline', { tags: ['sessions'], summary: 'The session owner declines a join request', params: joinParams, response: { 200: joinSchema, ...errors } }),
  kick: route('POST', '/api/v1/sessions/:id/joins/:joinId/kick', {
    tags: ['sessions'],
    summary: 'The session owner (or a session manager) removes a joiner, or withdraws an invitation or request not yet used',
    params: joinParams,
    response: { 200: joinSchema, ...errors },
  }),
  // Frames as the browser terminal's; the server first sends {type:'pending'} while the owner has not answered.
  // An RDP session sends the screen ({type:'screen'|'keyframe'|'record'}) and takes input events as the input data.
  terminal: route('GET', '/api/v1/sessions/:id/joins/:joinId/terminal', {
    tags: ['sessions'],
    summary: "WebSocket: the joiner's terminal (or, for RDP, screen and input) on a shared session (waits for the owner's answer to a request)",
    params: joinParams,
    response: { 101: { type: 'null', description: 'Switching to the WebSocket protocol' }, ...errors },
  }),
} as const;
