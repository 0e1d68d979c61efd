import { StoredProviderEntity } from './stored-provider.entity';

/** The entities of stored LLM providers; part of `GATEWAY_ENTITIES`. */
export const STORED_PROVIDER_ENTITIES = [StoredProviderEntity];
