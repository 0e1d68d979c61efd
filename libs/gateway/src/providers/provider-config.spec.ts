import { AnthropicProvider } from './anthropic.provider';
import { DevProvider } from './dev.provider';
import { InvalidProviderConfigError } from './errors/invalid-provider-config.error';
import { OpenAiCompatibleProvider } from './openai-compatible.provider';
import { createProvider, validateProviderConfigs } from './provider-config';

function problemsOf(input: unknown): readonly string[] {
  try {
    validateProviderConfigs(input);
  } catch (error) {
    if (error instanceof InvalidProviderConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('validateProviderConfigs', () => {
  it('accepts a valid list', () => {
    const configs = [
      { name: 'openai', kind: 'openai-compatible', apiKey: 'sk-1', models: ['gpt-x'] },
      { name: 'ollama', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:11434/v1' },
      { name: 'claude', kind: 'anthropic', apiKey: 'sk-ant' },
      { name: 'dev', kind: 'dev' },
    ];
    expect(validateProviderConfigs(configs)).toBe(configs);
  });

  it('names every problem at once and never repeats a secret', () => {
    const error = (() => {
      try {
        validateProviderConfigs([
          { name: '', kind: 'gemini' },
          { name: 'a', kind: 'anthropic' },
          {
            name: 'a',
            kind: 'openai-compatible',
            baseUrl: 'https://user:hunter2@example.com/v1',
            apiKey: 'sk-secret',
          },
          { name: 'b', kind: 'openai-compatible', baseUrl: 'ftp://x' },
          { name: 'c', kind: 'openai-compatible' },
          { name: 'd', kind: 'dev', apiKey: 'sk-secret', baseUrl: 'http://x' },
          { name: 'e', kind: 'dev', models: ['', 3] },
          'nope',
        ]);
      } catch (caught) {
        return caught as InvalidProviderConfigError;
      }
      throw new Error('expected a throw');
    })();
    expect(error).toBeInstanceOf(InvalidProviderConfigError);
    expect(error.problems).toEqual([
      'providers[0].name must be 1-64 of A-Z a-z 0-9 _ . - starting alphanumeric',
      'providers[0].kind must be one of openai-compatible, anthropic, dev',
      'provider "a".apiKey is required for kind anthropic',
      'provider "a": name is used twice',
      'provider "a".baseUrl must not embed credentials; use apiKey',
      'provider "b".baseUrl must be http or https',
      'provider "c".apiKey is required when baseUrl is left to OpenAI\'s',
      'provider "d".baseUrl is not used by kind dev',
      'provider "d".apiKey is not used by kind dev',
      'provider "e".models must be an array of non-empty strings',
      'providers[7] must be an object',
    ]);
    expect(error.message).not.toMatch(/sk-secret|hunter2/);
  });

  it('rejects what is not an array', () => {
    expect(problemsOf({})).toEqual(['providers must be an array']);
  });
});

describe('createProvider', () => {
  it('builds each kind', () => {
    expect(
      createProvider({ name: 'o', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' }),
    ).toBeInstanceOf(OpenAiCompatibleProvider);
    const claude = createProvider({ name: 'c', kind: 'anthropic', apiKey: 'k' });
    expect(claude).toBeInstanceOf(AnthropicProvider);
    expect(claude).toMatchObject({ name: 'c', kind: 'anthropic' });
    expect(createProvider({ name: 'd', kind: 'dev' })).toBeInstanceOf(DevProvider);
  });

  it('refuses an anthropic provider with no key', () => {
    expect(() => createProvider({ name: 'c', kind: 'anthropic' })).toThrow(
      InvalidProviderConfigError,
    );
  });
});
