import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

import type { AgentRun, AgentRunStep } from '../run.types';
import { RUN_STATUSES } from './list-runs.query.dto';

const MICROS_PER_USD = 1_000_000;

export class RunDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  agentId!: string;

  @ApiProperty({ enum: RUN_STATUSES })
  status!: string;

  @ApiProperty({
    description: 'The input messages (`role`, `content`).',
    type: 'array',
    items: { type: 'object' },
  })
  input!: unknown[];

  @ApiProperty({ type: String, nullable: true, description: 'The final answer, once succeeded.' })
  output!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why it did not succeed.' })
  error!: string | null;

  @ApiProperty({ type: String, nullable: true })
  idempotencyKey!: string | null;

  @ApiProperty()
  cancelRequested!: boolean;

  @ApiProperty()
  stepCount!: number;

  @ApiProperty()
  inputTokens!: number;

  @ApiProperty()
  outputTokens!: number;

  @ApiProperty({ description: 'What the model calls cost, in US dollars.' })
  costUsd!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  startedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finishedAt!: string | null;
}

export class RunPageDto {
  @ApiProperty({ type: [RunDto] })
  data!: RunDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to get the next page; null on the last page.',
  })
  nextCursor!: string | null;
}

export class RunStepDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ description: '1, 2, 3... in the order the steps were stored.' })
  seq!: number;

  @ApiProperty({ enum: ['model', 'tool'] })
  kind!: string;

  @ApiProperty({ enum: ['ok', 'error'] })
  status!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'model: `provider/model` that served.',
  })
  target!: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'model: the assistant message, `{ content, toolCalls }`.',
  })
  message!: AgentRunStep['message'];

  @ApiProperty({ type: String, nullable: true })
  toolCallId!: string | null;

  @ApiProperty({ type: String, nullable: true })
  toolName!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'tool: the JSON arguments.' })
  arguments!: string | null;

  @ApiPropertyOptional({ nullable: true, description: 'tool: the output, any JSON value.' })
  result!: unknown;

  @ApiProperty({ type: String, nullable: true })
  error!: string | null;

  @ApiProperty()
  inputTokens!: number;

  @ApiProperty()
  outputTokens!: number;

  @ApiProperty({ description: 'In US dollars.' })
  costUsd!: number;

  @ApiProperty()
  latencyMs!: number;

  @ApiProperty()
  cacheHit!: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class RunStepListDto {
  @ApiProperty({ type: [RunStepDto] })
  data!: RunStepDto[];
}

export function toRunDto(run: AgentRun): RunDto {
  return {
    id: run.id,
    agentId: run.agentId,
    status: run.status,
    input: run.input,
    output: run.output,
    error: run.error,
    idempotencyKey: run.idempotencyKey,
    cancelRequested: run.cancelRequested,
    stepCount: run.stepCount,
    inputTokens: run.inputTokens,
    outputTokens: run.outputTokens,
    costUsd: run.costMicros / MICROS_PER_USD,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

export function toRunStepDto(step: AgentRunStep): RunStepDto {
  return {
    id: step.id,
    seq: step.seq,
    kind: step.kind,
    status: step.status,
    target: step.target,
    message: step.message,
    toolCallId: step.toolCallId,
    toolName: step.toolName,
    arguments: step.arguments,
    result: step.result ?? null,
    error: step.error,
    inputTokens: step.inputTokens,
    outputTokens: step.outputTokens,
    costUsd: step.costMicros / MICROS_PER_USD,
    latencyMs: step.latencyMs,
    cacheHit: step.cacheHit,
    createdAt: step.createdAt.toISOString(),
  };
}
