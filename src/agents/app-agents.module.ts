import { AgentsModule } from '@keel/agents';
import { Module } from '@nestjs/common';

/**
 * Agent definitions as this app configures them, in one place: modules that need
 * `AgentDefinitionsService` (runs) import this module, so they share the one `AgentsModule`
 * instance (Nest tells dynamic modules apart by reference).
 */
@Module({
  imports: [AgentsModule.forRoot({})],
  exports: [AgentsModule],
})
export class AppAgentsModule {}
