import { Injectable } from '@nestjs/common';
import { z } from 'zod';

import { AgentTool } from '../tool.decorator';
import type { AgentToolHandler } from '../tool.types';
import { evaluateExpression } from './arithmetic-expression';

export const MAX_CALCULATOR_EXPRESSION_LENGTH = 1000;

const calculatorInput = z.object({
  expression: z
    .string()
    .min(1)
    .max(MAX_CALCULATOR_EXPRESSION_LENGTH)
    .describe('An arithmetic expression, for example "(2 + 3) * sqrt(16) / 2^3"'),
});

export type CalculatorInput = z.output<typeof calculatorInput>;

export interface CalculatorOutput {
  result: number;
}

/** Arithmetic for models, which are poor at it. Parses the expression itself: no `eval`. */
@AgentTool({
  name: 'calculator',
  description:
    'Evaluates an arithmetic expression exactly. Supports + - * / % ^ (power), parentheses, ' +
    'the constants pi and e, and the functions sqrt, abs, round, floor, ceil, min, max, ' +
    'log (base 10), ln, exp, sin, cos, tan (radians). Use it for any calculation.',
  input: calculatorInput,
  timeoutMs: 1_000,
})
@Injectable()
export class CalculatorTool implements AgentToolHandler<CalculatorInput, CalculatorOutput> {
  execute(input: CalculatorInput): Promise<CalculatorOutput> {
    // The executor turns a CalculatorError into a rejection, as an async method would.
    return new Promise((resolve) =>
      resolve({ result: withoutNoise(evaluateExpression(input.expression)) }),
    );
  }
}

/** 15 significant digits hide binary noise such as 0.1 + 0.2 = 0.30000000000000004. */
function withoutNoise(value: number): number {
  const result = Number(value.toPrecision(15));
  return result === 0 ? 0 : result;
}
