export * from './agents.constants';
export * from './agents.entities';
export * from './agents.module';
export { ASYNC_OPTIONS_TYPE as AGENTS_ASYNC_OPTIONS_TYPE } from './agents.module-definition';
export * from './definitions/agent-definition.entity';
export * from './definitions/agent-definitions.service';
export * from './definitions/dto/agent-definition.dto';
export * from './definitions/dto/create-agent-definition.dto';
export * from './definitions/dto/update-agent-definition.dto';
export * from './errors/agent-definition-not-found.error';
export * from './errors/agent-name-taken.error';
export * from './errors/invalid-page-request.error';
export type * from './interfaces/agents-options.interface';
export { AGENTS_MIGRATIONS } from './migrations';

