import { CalculatorError } from '../errors/calculator.error';

/** Parentheses, function calls, signs and exponents nested deeper than this are refused. */
export const MAX_EXPRESSION_DEPTH = 100;

type Token =
  | { kind: 'number'; value: number; position: number }
  | { kind: 'identifier'; name: string; position: number }
  | { kind: 'operator'; symbol: string; position: number }
  | { kind: 'end'; position: number };

const OPERATORS = new Set(['+', '-', '*', '/', '%', '^', '(', ')', ',']);

const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, e: Math.E };

interface MathFunction {
  readonly arity: number | 'variadic';
  readonly apply: (...args: number[]) => number;
}

const FUNCTIONS: Readonly<Record<string, MathFunction>> = {
  sqrt: { arity: 1, apply: Math.sqrt },
  abs: { arity: 1, apply: Math.abs },
  round: { arity: 1, apply: Math.round },
  floor: { arity: 1, apply: Math.floor },
  ceil: { arity: 1, apply: Math.ceil },
  min: { arity: 'variadic', apply: Math.min },
  max: { arity: 'variadic', apply: Math.max },
  log: { arity: 1, apply: Math.log10 },
  ln: { arity: 1, apply: Math.log },
  exp: { arity: 1, apply: Math.exp },
  sin: { arity: 1, apply: Math.sin },
  cos: { arity: 1, apply: Math.cos },
  tan: { arity: 1, apply: Math.tan },
};

/**
 * Evaluates an arithmetic expression without `eval`: numbers (`2`, `.5`, `1.5e-3`),
 * `+ - * / % ^` (`^` binds tightest and is right-associative, so `-2^2` is -4 and `2^3^2` is
 * 512), parentheses, the constants `pi` and `e`, and `sqrt abs round floor ceil min max log`
 * (base 10) `ln exp sin cos tan` (radians). Names are case-insensitive.
 * @throws CalculatorError for bad syntax, unknown names, a division by zero, a result that is
 *   not a finite number, or nesting deeper than `MAX_EXPRESSION_DEPTH`.
 */
export function evaluateExpression(expression: string): number {
  return new Parser(tokenize(expression)).parse();
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < source.length) {
    const char = source[index];
    const position = index + 1;
    if (/\s/.test(char)) {
      index += 1;
    } else if (/[0-9.]/.test(char)) {
      const match = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(index));
      if (!match) throw new CalculatorError(`Malformed number`, position);
      const value = Number(match[0]);
      if (!Number.isFinite(value)) throw new CalculatorError('Number out of range', position);
      tokens.push({ kind: 'number', value, position });
      index += match[0].length;
    } else if (/[a-zA-Z_]/.test(char)) {
      const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(source.slice(index))![0];
      tokens.push({ kind: 'identifier', name: name.toLowerCase(), position });
      index += name.length;
    } else if (OPERATORS.has(char)) {
      tokens.push({ kind: 'operator', symbol: char, position });
      index += 1;
    } else {
      throw new CalculatorError(`Unexpected character ${JSON.stringify(char)}`, position);
    }
  }
  tokens.push({ kind: 'end', position: source.length + 1 });
  return tokens;
}

/** One method per precedence level, loosest first. */
class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    const value = this.additive();
    const next = this.peek();
    if (next.kind !== 'end') throw this.unexpected(next);
    return value;
  }

  // additive := multiplicative (("+" | "-") multiplicative)*
  private additive(): number {
    let value = this.multiplicative();
    for (let token = this.peek(); this.isOperator(token, '+', '-'); token = this.peek()) {
      this.index += 1;
      const right = this.multiplicative();
      value = finite(token.symbol === '+' ? value + right : value - right, token.position);
    }
    return value;
  }

  // multiplicative := unary (("*" | "/" | "%") unary)*
  private multiplicative(): number {
    let value = this.unary();
    for (let token = this.peek(); this.isOperator(token, '*', '/', '%'); token = this.peek()) {
      this.index += 1;
      const right = this.unary();
      if (token.symbol !== '*' && right === 0) {
        throw new CalculatorError(
          token.symbol === '/' ? 'Division by zero' : 'Modulo by zero',
          token.position,
        );
      }
      const result =
        token.symbol === '*' ? value * right : token.symbol === '/' ? value / right : value % right;
      value = finite(result, token.position);
    }
    return value;
  }

  // unary := ("+" | "-") unary | power
  private unary(): number {
    const token = this.peek();
    if (this.isOperator(token, '+', '-')) {
      this.index += 1;
      const operand = this.nested(token.position, () => this.unary());
      return token.symbol === '-' ? -operand : operand;
    }
    return this.power();
  }

  // power := primary ("^" unary)?   -- right-associative through unary
  private power(): number {
    const base = this.primary();
    const token = this.peek();
    if (!this.isOperator(token, '^')) return base;
    this.index += 1;
    const exponent = this.nested(token.position, () => this.unary());
    return finite(base ** exponent, token.position);
  }

  // primary := number | constant | name "(" arguments ")" | "(" additive ")"
  private primary(): number {
    const token = this.next();
    if (token.kind === 'number') return token.value;
    if (token.kind === 'identifier') return this.identifier(token.name, token.position);
    if (this.isOperator(token, '(')) {
      const value = this.nested(token.position, () => this.additive());
      this.expect(')');
      return value;
    }
    throw this.unexpected(token);
  }

  private identifier(name: string, position: number): number {
    const fn = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    const isCall = this.isOperator(this.peek(), '(');
    if (Object.hasOwn(CONSTANTS, name)) {
      if (isCall) throw new CalculatorError(`"${name}" is a constant, not a function`, position);
      return CONSTANTS[name];
    }
    if (!fn) throw new CalculatorError(`Unknown name "${name}"`, position);
    if (!isCall)
      throw new CalculatorError(`Function "${name}" needs arguments: ${name}(...)`, position);
    this.index += 1;
    const args = this.nested(position, () => this.arguments());
    if (fn.arity === 'variadic' ? args.length === 0 : args.length !== fn.arity) {
      const expected =
        fn.arity === 'variadic'
          ? 'at least 1 argument'
          : `${fn.arity} argument${fn.arity === 1 ? '' : 's'}`;
      throw new CalculatorError(
        `Function "${name}" takes ${expected}, got ${args.length}`,
        position,
      );
    }
    return finite(fn.apply(...args), position, name);
  }

  // arguments := (additive ("," additive)*)? ")"
  private arguments(): number[] {
    const args: number[] = [];
    if (this.isOperator(this.peek(), ')')) {
      this.index += 1;
      return args;
    }
    for (;;) {
      args.push(this.additive());
      const token = this.next();
      if (this.isOperator(token, ')')) return args;
      if (!this.isOperator(token, ',')) throw this.unexpected(token, '"," or ")"');
    }
  }

  private nested<T>(position: number, parse: () => T): T {
    if (this.depth >= MAX_EXPRESSION_DEPTH) {
      throw new CalculatorError(
        `Expression nested deeper than ${MAX_EXPRESSION_DEPTH} levels`,
        position,
      );
    }
    this.depth += 1;
    try {
      return parse();
    } finally {
      this.depth -= 1;
    }
  }

  private expect(symbol: string): void {
    const token = this.next();
    if (!this.isOperator(token, symbol)) throw this.unexpected(token, `"${symbol}"`);
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== 'end') this.index += 1;
    return token;
  }

  private isOperator(
    token: Token,
    ...symbols: string[]
  ): token is Extract<Token, { kind: 'operator' }> {
    return token.kind === 'operator' && symbols.includes(token.symbol);
  }

  private unexpected(token: Token, expected?: string): CalculatorError {
    const found =
      token.kind === 'end'
        ? 'end of expression'
        : token.kind === 'number'
          ? `number ${token.value}`
          : token.kind === 'identifier'
            ? `"${token.name}"`
            : `"${token.symbol}"`;
    const message = expected ? `Expected ${expected} but found ${found}` : `Unexpected ${found}`;
    return new CalculatorError(message, token.position);
  }
}

function finite(value: number, position: number, fn?: string): number {
  if (Number.isFinite(value)) return value;
  const what = fn ? `${fn}(...)` : 'The result';
  throw new CalculatorError(`${what} is not a finite number`, position);
}
