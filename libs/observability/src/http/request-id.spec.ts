import type { IncomingMessage } from 'node:http';

import { requestIdFor } from './request-id';

const withHeader = (value?: string | string[]) =>
  ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as IncomingMessage;

describe('requestIdFor', () => {
  it('keeps a safe id', () => {
    expect(requestIdFor(withHeader('01HZX3-abc.def:9_x'))).toBe('01HZX3-abc.def:9_x');
  });

  it.each([
    ['missing', undefined],
    ['repeated', ['a', 'b']],
    ['a CRLF injection', 'a\r\nset-cookie: x'],
    ['starting with a dot', '.hidden'],
    ['129 characters long', 'a'.repeat(129)],
  ])('generates a UUID when the header is %s', (_label, value) => {
    expect(requestIdFor(withHeader(value))).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
