import { STORED_PROVIDER_ENTITIES } from './stored-providers/stored-provider.entities';
import { USAGE_ENTITIES } from './usage/usage.entities';

/** Every entity of this library; the app lists them in its DataSource. */
export const GATEWAY_ENTITIES = [...USAGE_ENTITIES, ...STORED_PROVIDER_ENTITIES];
