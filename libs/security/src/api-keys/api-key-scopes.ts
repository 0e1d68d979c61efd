/** Scopes an API key can be granted; user tokens hold every scope. */
export const API_KEY_SCOPES = ['agents:read', 'agents:write', 'llm:invoke', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export function isApiKeyScope(value: unknown): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly unknown[]).includes(value);
}
