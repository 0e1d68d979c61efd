import { Reflector } from '@nestjs/core';

import { getPolicyToken } from './inject-policy.decorator';
import { Resilient, resilientMetadata } from './resilient.decorator';

class Client {
  @Resilient('openai')
  complete(_prompt: string, _signal?: AbortSignal): Promise<string> {
    return Promise.resolve('ok');
  }
}

describe('resilience decorators', () => {
  it('gives each dependency its own stable policy token', () => {
    expect(getPolicyToken('openai')).toBe(getPolicyToken('openai'));
    expect(getPolicyToken('openai')).not.toBe(getPolicyToken('anthropic'));
  });

  it('@Resilient only records the dependency; the explorer wraps later', async () => {
    const method = Client.prototype.complete;
    expect(new Reflector().get(resilientMetadata, method)).toBe('openai');
    await expect(new Client().complete('x')).resolves.toBe('ok');
  });
});
