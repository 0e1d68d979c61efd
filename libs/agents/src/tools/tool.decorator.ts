import type { Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { output, ZodType } from 'zod';

import { InvalidToolDefinitionError } from './errors/invalid-tool-definition.error';
import type { AgentToolHandler, AgentToolOptions } from './tool.types';
import { TOOL_NAME_PATTERN } from './tools.constants';

/** Read by `ToolRegistry` off each provider's class. */
export const agentToolMetadata = Reflector.createDecorator<AgentToolOptions>();

/**
 * Declares a provider class as a tool agents can call. Only metadata: `ToolRegistry` finds
 * the provider when the application starts, wherever it is declared, so a sibling app
 * registers its own tools by listing them among its module's providers. The class's
 * `execute` receives the arguments as the `input` schema outputs them.
 *
 * @example
 * ```ts
 * @AgentTool({ name: 'lookup_order', description: 'Order by id', input: z.object({ id: z.string() }) })
 * @Injectable()
 * export class LookupOrderTool implements AgentToolHandler<{ id: string }, Order> { ... }
 * ```
 * @throws InvalidToolDefinitionError when the options are invalid, as the class is declared.
 */
export function AgentTool<S extends ZodType>(
  options: AgentToolOptions<S>,
): <T extends Type<AgentToolHandler<output<S>>>>(target: T) => void {
  return (target) => {
    validateToolOptions(options, target.name);
    agentToolMetadata(options)(target);
  };
}

function validateToolOptions(options: AgentToolOptions, className: string): void {
  const problems: string[] = [];
  if (typeof options.name !== 'string' || !TOOL_NAME_PATTERN.test(options.name)) {
    problems.push(`name must be 1-64 characters of a-z, A-Z, 0-9, _ and - (got "${options.name}")`);
  }
  if (typeof options.description !== 'string' || options.description.trim() === '') {
    problems.push('description must not be empty');
  }
  if (!isZodSchema(options.input)) problems.push('input must be a zod schema');
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0 && isFinite(options.timeoutMs))) {
    problems.push('timeoutMs must be a positive number');
  }
  if (
    options.cacheTtlMs !== undefined &&
    !(options.cacheTtlMs >= 0 && isFinite(options.cacheTtlMs))
  ) {
    problems.push('cacheTtlMs must be zero or a positive number');
  }
  if (options.policy !== undefined && (typeof options.policy !== 'string' || !options.policy)) {
    problems.push('policy must be a non-empty policy name');
  }
  if (problems.length > 0) {
    throw new InvalidToolDefinitionError(`@AgentTool on ${className}: ${problems.join('; ')}`);
  }
}

function isZodSchema(value: unknown): value is ZodType {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { safeParseAsync?: unknown }).safeParseAsync === 'function'
  );
}
