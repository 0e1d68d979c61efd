import fc from 'fast-check';

import { CalculatorError } from '../errors/calculator.error';
import { ToolArgumentError } from '../errors/tool-argument.error';
import { evaluateExpression, MAX_EXPRESSION_DEPTH } from './arithmetic-expression';
import { CalculatorTool } from './calculator.tool';

describe('evaluateExpression', () => {
  it.each<[string, number]>([
    ['42', 42],
    ['3.25', 3.25],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['1.5E-2', 0.015],
    ['2e+2', 200],
    ['1 + 2', 3],
    ['10 - 4 - 3', 3],
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['20 / 4 / 5', 1],
    ['7 % 3', 1],
    ['-7 % 3', -1],
    ['2 * 3 % 4', 2],
    ['2 ^ 10', 1024],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', -4],
    ['(-2) ^ 2', 4],
    ['2 ^ -1', 0.5],
    ['2 * -3', -6],
    ['--3', 3],
    ['+-+3', -3],
    ['-(1 + 2)', -3],
    ['4 ^ 0.5', 2],
    ['sqrt(16)', 4],
    ['abs(-3.5)', 3.5],
    ['round(2.5)', 3],
    ['floor(-1.5)', -2],
    ['ceil(1.2)', 2],
    ['min(4, 2, 8)', 2],
    ['max(4, 2 * 5, 8)', 10],
    ['min(7)', 7],
    ['log(1000)', 3],
    ['ln(e)', 1],
    ['exp(0)', 1],
    ['sin(0)', 0],
    ['cos(0)', 1],
    ['tan(0)', 0],
    ['pi', Math.PI],
    ['2 * PI', 2 * Math.PI],
    ['SQRT(9) + Abs(-1)', 4],
    ['sqrt(sqrt(256))', 4],
    ['  1\t+\n2  ', 3],
    ['((((((1))))))', 1],
  ])('%s = %d', (expression, expected) => {
    expect(evaluateExpression(expression)).toBeCloseTo(expected, 12);
  });

  it.each<[string, RegExp]>([
    ['1 / 0', /^Division by zero at position 3$/],
    ['5 % (2 - 2)', /^Modulo by zero at position 3$/],
    ['foo + 1', /^Unknown name "foo" at position 1$/],
    ['2 * x', /^Unknown name "x" at position 5$/],
    ['sqrt', /^Function "sqrt" needs arguments: sqrt\(\.\.\.\) at position 1$/],
    ['pi(2)', /^"pi" is a constant, not a function at position 1$/],
    ['sqrt(1, 2)', /^Function "sqrt" takes 1 argument, got 2 at position 1$/],
    ['max()', /^Function "max" takes at least 1 argument, got 0 at position 1$/],
    ['1 +', /^Unexpected end of expression at position 4$/],
    ['(1 + 2', /^Expected "\)" but found end of expression at position 7$/],
    ['1 + 2)', /^Unexpected "\)" at position 6$/],
    ['2 3', /^Unexpected number 3 at position 3$/],
    ['2pi', /^Unexpected "pi" at position 2$/],
    ['1.2.3', /^Unexpected number 0.3 at position 4$/],
    ['1e', /^Unexpected "e" at position 2$/],
    ['max(1 2)', /^Expected "," or "\)" but found number 2 at position 7$/],
    ['2 $ 3', /^Unexpected character "\$" at position 3$/],
    ['eval("1")', /^Unexpected character "\\"" at position 6$/],
    ['', /^Unexpected end of expression at position 1$/],
    ['1e400', /^Number out of range at position 1$/],
    ['10 ^ 400', /^The result is not a finite number at position 4$/],
    ['1e308 * 10', /^The result is not a finite number at position 7$/],
    ['sqrt(-1)', /^sqrt\(\.\.\.\) is not a finite number at position 1$/],
    ['ln(0)', /^ln\(\.\.\.\) is not a finite number at position 1$/],
    ['(-8) ^ (1/3)', /^The result is not a finite number at position 6$/],
  ])('%j fails: %s', (expression, message) => {
    const error = catchError(() => evaluateExpression(expression));
    expect(error).toBeInstanceOf(CalculatorError);
    expect(error).toBeInstanceOf(ToolArgumentError);
    expect((error as Error).message).toMatch(message);
  });

  it('accepts nesting up to the limit and refuses one level more', () => {
    const nested = (depth: number) => `${'('.repeat(depth)}1${')'.repeat(depth)}`;
    expect(evaluateExpression(nested(MAX_EXPRESSION_DEPTH))).toBe(1);
    expect(() => evaluateExpression(nested(MAX_EXPRESSION_DEPTH + 1))).toThrow(
      /nested deeper than 100 levels/,
    );
    expect(() => evaluateExpression(`${'-'.repeat(500)}1`)).toThrow(/nested deeper/);
    expect(() => evaluateExpression(`2${'^2'.repeat(500)}`)).toThrow(/nested deeper/);
    expect(() => evaluateExpression(`${'sqrt('.repeat(101)}1${')'.repeat(101)}`)).toThrow(
      /nested deeper/,
    );
  });

  it('never fails with anything but a CalculatorError, whatever the input', () => {
    const alphabet = [...'0123456789.eE+-*/%^(),  piesqrtmaxlnxyz$"\'`;[]{}=!\\'];
    const garbage = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.array(fc.constantFrom(...alphabet), { maxLength: 200 }).map((chars) => chars.join('')),
    );
    fc.assert(
      fc.property(garbage, (expression) => {
        try {
          const value = evaluateExpression(expression);
          return Number.isFinite(value);
        } catch (error) {
          return error instanceof CalculatorError;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('CalculatorTool', () => {
  const tool = new CalculatorTool();
  it('returns the result', async () => {
    await expect(tool.execute({ expression: '(2 + 3) * 4' })).resolves.toEqual({ result: 20 });
  });

  it('hides binary floating-point noise', async () => {
    await expect(tool.execute({ expression: '0.1 + 0.2' })).resolves.toEqual({ result: 0.3 });
    await expect(tool.execute({ expression: '1.1 * 3' })).resolves.toEqual({ result: 3.3 });
  });

  it('rejects, never throws synchronously, on a bad expression', async () => {
    const call = tool.execute({ expression: '1 / 0' });
    await expect(call).rejects.toThrow(CalculatorError);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
