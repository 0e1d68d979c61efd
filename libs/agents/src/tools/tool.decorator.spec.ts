import { Reflector } from '@nestjs/core';
import { z } from 'zod';

import { InvalidToolDefinitionError } from './errors/invalid-tool-definition.error';
import { AgentTool, agentToolMetadata } from './tool.decorator';
import type { AgentToolOptions } from './tool.types';

class Handler {
  execute(): Promise<unknown> {
    return Promise.resolve(null);
  }
}

const valid: AgentToolOptions = { name: 'do_it', description: 'Does it', input: z.object({}) };

function decorate(options: Partial<AgentToolOptions>): typeof Handler {
  const target = class DecoratedTool extends Handler {};
  AgentTool({ ...valid, ...options })(target);
  return target;
}

describe('@AgentTool', () => {
  it('stores the options as class metadata', () => {
    const target = decorate({ timeoutMs: 5, policy: 'p' });
    expect(new Reflector().get(agentToolMetadata, target)).toMatchObject({
      name: 'do_it',
      timeoutMs: 5,
      policy: 'p',
    });
  });

  it.each(['a', 'A-b_9', 'x'.repeat(64)])('accepts the name %j', (name) => {
    expect(() => decorate({ name })).not.toThrow();
  });

  it.each<[string, Partial<AgentToolOptions>, RegExp]>([
    ['an empty name', { name: '' }, /name must be 1-64 characters/],
    ['a long name', { name: 'x'.repeat(65) }, /name must be 1-64 characters/],
    ['a dotted name', { name: 'a.b' }, /name must be 1-64 characters/],
    ['a spaced name', { name: 'a b' }, /name must be 1-64 characters/],
    ['an empty description', { description: ' ' }, /description must not be empty/],
    ['no schema', { input: {} as never }, /input must be a zod schema/],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs must be a positive number/],
    ['an infinite timeout', { timeoutMs: Infinity }, /timeoutMs must be a positive number/],
    ['a negative cache TTL', { cacheTtlMs: -1 }, /cacheTtlMs must be zero or a positive/],
    ['an empty policy', { policy: '' }, /policy must be a non-empty policy name/],
  ])('rejects %s, naming the class', (_case, options, message) => {
    expect(() => decorate(options)).toThrow(InvalidToolDefinitionError);
    expect(() => decorate(options)).toThrow(/^@AgentTool on DecoratedTool: /);
    expect(() => decorate(options)).toThrow(message);
  });
});
