import { AgentRunStepEntity } from './agent-run-step.entity';
import { AgentRunEntity } from './agent-run.entity';

/** The entities of agent runs; part of `AGENTS_ENTITIES`. */
export const RUN_ENTITIES = [AgentRunEntity, AgentRunStepEntity];
