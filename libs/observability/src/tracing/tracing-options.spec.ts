import { buildSampler } from './tracing-options';
import type { TracingSamplerType } from './tracing-options';

describe('buildSampler', () => {
  it.each<[TracingSamplerType, string]>([
    ['always_on', 'AlwaysOnSampler'],
    ['always_off', 'AlwaysOffSampler'],
    ['traceidratio', 'TraceIdRatioBased{0.25}'],
    ['parentbased_always_on', 'ParentBased{root=AlwaysOnSampler,'],
    ['parentbased_always_off', 'ParentBased{root=AlwaysOffSampler,'],
    ['parentbased_traceidratio', 'ParentBased{root=TraceIdRatioBased{0.25},'],
  ])('builds %s', (type, description) => {
    expect(buildSampler({ type, ratio: 0.25 }).toString()).toContain(description);
  });

  it('rejects a ratio outside 0 to 1 and an unknown type', () => {
    expect(() => buildSampler({ type: 'traceidratio', ratio: 1.5 })).toThrow(RangeError);
    expect(() => buildSampler({ type: 'traceidratio', ratio: Number.NaN })).toThrow(RangeError);
    expect(() => buildSampler({ type: 'sometimes' as TracingSamplerType, ratio: 1 })).toThrow(
      'Unknown tracing sampler type: sometimes',
    );
  });
});
