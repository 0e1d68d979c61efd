/**
 * OpenMetrics caps an exemplar's label names and values at 128 UTF-8 characters in all,
 * and Prometheus fails the whole scrape of a target that breaks it.
 */
export const EXEMPLAR_LABEL_BUDGET = 128;

export interface ExemplarSource {
  traceId: string;
  spanId: string;
  tenantId?: string;
  userId?: string;
  apiKeyId?: string;
}

/**
 * The exemplar of a sampled request: `trace_id`, then who made it (`tenant`, and `key` for
 * an API key or else `user`), then `span_id`, each only while the total stays within
 * {@link EXEMPLAR_LABEL_BUDGET}. With UUID ids that is trace, tenant and caller; anonymous
 * requests keep `span_id`.
 */
export function exemplarLabels(source: ExemplarSource): Record<string, string> {
  const labels: Record<string, string> = { trace_id: source.traceId };
  let used = 'trace_id'.length + source.traceId.length;
  const caller: [string, string | undefined] = source.apiKeyId
    ? ['key', source.apiKeyId]
    : ['user', source.userId];
  const candidates: [string, string | undefined][] = [
    ['tenant', source.tenantId],
    caller,
    ['span_id', source.spanId],
  ];
  for (const [name, value] of candidates) {
    if (!value) continue;
    const cost = name.length + [...value].length;
    if (used + cost > EXEMPLAR_LABEL_BUDGET) continue;
    labels[name] = value;
    used += cost;
  }
  return labels;
}
