import type { HttpException } from '@nestjs/common';

/**
 * The message of an `HttpException` as a client should read it: its string response, or
 * the `message` of its object response (validation lists joined with `; `).
 */
export function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}
