// Domain errors carry an HTTP-ish status and a stable code; the web layer renders
// them as {error: {code, message}}. Anything else is an internal error.
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra facts for the client: fields added to the error object, and a Retry-After in seconds. */
    readonly extra?: { fields?: Record<string, unknown>; retryAfterSeconds?: number },
  ) {
    super(message);
  }
}

export const badRequest = (message: string, code = 'invalid_request') => new AppError(400, code, message);
export const unauthorized = (message = 'authentication required', code = 'unauthorized') => new AppError(401, code, message);
export const forbidden = (message = 'you do not have permission to do this', code = 'forbidden') => new AppError(403, code, message);
export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, code = 'conflict') => new AppError(409, code, message);
