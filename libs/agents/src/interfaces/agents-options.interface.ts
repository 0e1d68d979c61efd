export interface AgentsModuleOptions {
  /**
   * Page size of `GET /agents` when the client gives no `limit`.
   * @default 20
   */
  defaultPageSize?: number;
  /**
   * Largest `limit` a client may ask for; larger values answer 400.
   * @default 100
   */
  maxPageSize?: number;
}

export type ResolvedAgentsOptions = Required<AgentsModuleOptions>;
