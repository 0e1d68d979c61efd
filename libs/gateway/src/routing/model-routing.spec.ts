import { InvalidModelRoutingError } from './errors/invalid-model-routing.error';
import { UnknownModelError } from './errors/unknown-model.error';
import { resolveModelTargets, validateModelRouting } from './model-routing';

const providers = ['openai', 'anthropic'];

function problemsOf(input: unknown): readonly string[] {
  try {
    validateModelRouting(input, providers);
  } catch (error) {
    if (error instanceof InvalidModelRoutingError) return error.problems;
    throw error;
  }
  return [];
}

describe('validateModelRouting', () => {
  it('accepts chains of configured providers', () => {
    const routing = {
      aliases: {
        default: [
          { provider: 'openai', model: 'gpt-4o-mini' },
          { provider: 'anthropic', model: 'claude-haiku' },
        ],
        'llama-3:8b': [{ provider: 'openai', model: 'meta-llama/Llama-3-8B' }],
      },
    };
    expect(validateModelRouting(routing, providers)).toEqual(routing);
  });

  it('takes missing aliases as none', () => {
    expect(validateModelRouting({}, providers)).toEqual({ aliases: {} });
  });

  it('names every problem at once', () => {
    expect(
      problemsOf({
        aliases: {
          empty: [],
          'a/b': [{ provider: 'openai', model: 'gpt-4o' }],
          chain: [
            { provider: 'gemini', model: 'gemini-pro' },
            { provider: 'openai', model: 'has space' },
            'nope',
            { provider: 'openai', model: 'gpt-4o' },
            { provider: 'openai', model: 'gpt-4o' },
          ],
          notArray: { provider: 'openai', model: 'gpt-4o' },
        },
      }),
    ).toEqual([
      'alias "empty" has no targets',
      'alias "a/b": name must be 1-128 of A-Z a-z 0-9 _ . : - starting alphanumeric',
      'alias "chain"[0].provider "gemini" is not a configured provider',
      'alias "chain"[1].model must be 1-256 printable characters without spaces',
      'alias "chain"[2] must be an object { provider, model }',
      'alias "chain"[4] repeats openai/gpt-4o',
      'alias "notArray" must be an array of { provider, model }',
    ]);
  });

  it('rejects what is not an object', () => {
    expect(problemsOf([])).toEqual(['routing must be an object']);
    expect(problemsOf({ aliases: 3 })).toEqual(['routing.aliases must be an object']);
  });
});

describe('resolveModelTargets', () => {
  const routing = validateModelRouting(
    { aliases: { default: [{ provider: 'openai', model: 'gpt-4o-mini' }] } },
    providers,
  );
  const names = new Set(providers);

  it('resolves an alias to its chain', () => {
    expect(resolveModelTargets(routing, names, 'default')).toEqual([
      { provider: 'openai', model: 'gpt-4o-mini' },
    ]);
  });

  it('resolves provider/model of a configured provider, split at the first slash', () => {
    expect(resolveModelTargets(routing, names, 'openai/meta-llama/Llama-3')).toEqual([
      { provider: 'openai', model: 'meta-llama/Llama-3' },
    ]);
  });

  it.each(['gpt-4o', 'gemini/pro', 'openai/', '/gpt-4o', 'toString', 'openai/a b'])(
    'rejects %p',
    (model) => {
      expect(() => resolveModelTargets(routing, names, model)).toThrow(UnknownModelError);
    },
  );
});
