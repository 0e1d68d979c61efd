import { BadRequestException, ConflictException, NotFoundException } from '@nestjs/common';

/** The provider a request describes cannot work; names every problem, never a key's value. */
export class InvalidStoredProviderError extends BadRequestException {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid LLM provider: ${problems.join('; ')}`);
  }
}

export class StoredProviderNotFoundError extends NotFoundException {
  constructor(id: string) {
    super(`LLM provider ${id} not found`);
  }
}

/** The name belongs to another stored provider or to one from configuration. */
export class StoredProviderNameTakenError extends ConflictException {
  constructor(name: string, owner: 'config' | 'stored') {
    super(
      owner === 'config'
        ? `An LLM provider named "${name}" comes from configuration`
        : `An LLM provider named "${name}" already exists`,
    );
  }
}

/** An API key was given but Keel has no key ring to encrypt it with. */
export class ProviderKeyEncryptionUnavailableError extends ConflictException {
  constructor() {
    super(
      'API keys of stored LLM providers are kept encrypted, and no encryption key is ' +
        'configured: set ENCRYPTION_KEYS, or store the provider without an apiKey',
    );
  }
}

/** The stored API key cannot be decrypted here, so the provider cannot be changed without one. */
export class StoredProviderKeyUnreadableError extends ConflictException {
  constructor(name: string) {
    super(
      `The stored API key of LLM provider "${name}" cannot be decrypted with the configured ` +
        'ENCRYPTION_KEYS; send a new apiKey (or null to remove it) with the change',
    );
  }
}
