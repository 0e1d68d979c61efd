import { EXEMPLAR_LABEL_BUDGET, exemplarLabels } from './exemplar-labels';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';
const uuid = (n: number) => `${String(n).repeat(8)}-1111-4111-8111-111111111111`;
const size = (labels: Record<string, string>) =>
  Object.entries(labels).reduce((n, [k, v]) => n + k.length + [...v].length, 0);

describe('exemplarLabels', () => {
  it('keeps trace and span ids for an anonymous request', () => {
    expect(exemplarLabels({ traceId, spanId })).toEqual({ trace_id: traceId, span_id: spanId });
  });

  it('names the tenant and user of an authenticated request within the OpenMetrics budget', () => {
    const labels = exemplarLabels({ traceId, spanId, tenantId: uuid(1), userId: uuid(2) });
    expect(labels).toEqual({ trace_id: traceId, tenant: uuid(1), user: uuid(2) });
    expect(size(labels)).toBeLessThanOrEqual(EXEMPLAR_LABEL_BUDGET);
  });

  it('names the API key rather than its creator', () => {
    const labels = exemplarLabels({
      traceId,
      spanId,
      tenantId: uuid(1),
      userId: uuid(2),
      apiKeyId: uuid(3),
    });
    expect(labels).toEqual({ trace_id: traceId, tenant: uuid(1), key: uuid(3) });
  });

  it('drops what does not fit, never the trace id', () => {
    const long = 't'.repeat(128);
    const labels = exemplarLabels({ traceId, spanId, tenantId: long, userId: uuid(2) });
    expect(labels).toEqual({ trace_id: traceId, user: uuid(2), span_id: spanId });
    expect(size(labels)).toBeLessThanOrEqual(EXEMPLAR_LABEL_BUDGET);
  });
});
