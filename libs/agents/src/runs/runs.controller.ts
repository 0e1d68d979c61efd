import { Readable } from 'node:stream';

import type { Principal } from '@keel/security';
import { CurrentPrincipal, Scopes } from '@keel/security';
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Inject,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { AgentDefinitionsService } from '../definitions/agent-definitions.service';
import { CreateRunDto, CreateRunQueryDto } from './dto/create-run.dto';
import { ListRunsQueryDto } from './dto/list-runs.query.dto';
import { RunDto, RunPageDto, RunStepListDto, toRunDto, toRunStepDto } from './dto/run.dto';
import { InvalidRunRequestError } from './errors/invalid-run-request.error';
import { RunQueueUnavailableError } from './errors/run-queue-unavailable.error';
import type { ResolvedRunsOptions } from './interfaces/runs-options.interface';
import { RunQueue } from './queue/run-queue';
import { runEventStream } from './run-event-stream';
import { RunEvents } from './run-events';
import { RUNS_OPTIONS } from './runs.constants';
import { RunsService } from './runs.service';

const idPipe = new ParseUUIDPipe({ version: '4' });
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const DEFAULT_PAGE_SIZE = 20;

@ApiTags('agent runs')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing or invalid credentials.' })
@ApiForbiddenResponse({ description: 'The API key lacks the scope.' })
@Controller()
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly queue: RunQueue,
    private readonly agents: AgentDefinitionsService,
    @Inject(RUNS_OPTIONS) private readonly options: ResolvedRunsOptions,
    private readonly runEvents: RunEvents,
  ) {}

  @Post('agents/:id/runs')
  @Scopes(['agents:write'])
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Start a run of an agent',
    description:
      'Answers 202 with the queued run, or with `wait=true` 200 with the run once it ended (or, ' +
      'after the wait bound, still running). A repeated `Idempotency-Key` answers the first run.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Repeating a request with the same key answers the same run (1-255 characters).',
  })
  @ApiAcceptedResponse({ type: RunDto, description: 'Queued or running.' })
  @ApiOkResponse({ type: RunDto, description: 'With `wait=true`.' })
  @ApiBadRequestResponse({ description: 'A field is missing, malformed or unknown.' })
  @ApiNotFoundResponse({ description: 'No such agent definition.' })
  @ApiConflictResponse({ description: 'The idempotency key was used for another request.' })
  @ApiServiceUnavailableResponse({
    description:
      'The run is stored but the run queue (Redis) is unavailable: retry with the same ' +
      'Idempotency-Key.',
  })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) agentId: string,
    @Body() body: CreateRunDto,
    @Query() query: CreateRunQueryDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunDto> {
    if (
      idempotencyKey !== undefined &&
      (idempotencyKey.length < 1 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)
    ) {
      throw new InvalidRunRequestError([
        `the Idempotency-Key header must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
      ]);
    }
    const { tenantId } = principal;
    await this.agents.get(tenantId, agentId);
    const messages = body.messages.map(({ role, content }) => ({ role, content }));
    const { run, created } = await this.runs.create(tenantId, agentId, {
      messages,
      ...(idempotencyKey !== undefined && { idempotencyKey }),
    });
    // Also on a retry: a run stored while the queue was unavailable is enqueued now (a run that
    // is already enqueued is not enqueued twice).
    if (created || run.status === 'queued') await this.enqueue(tenantId, run.id);
    if (query.wait !== 'true') return toRunDto(run);
    const current = await this.queue.waitFor(tenantId, run.id, this.options.maxWaitMs);
    void reply.status(HttpStatus.OK);
    return toRunDto(current);
  }

  private async enqueue(tenantId: string, runId: string): Promise<void> {
    try {
      await this.queue.enqueue(tenantId, runId);
    } catch (error) {
      throw new RunQueueUnavailableError(runId, error);
    }
  }

  @Get('agents/:id/runs')
  @Scopes(['agents:read'])
  @ApiOperation({ summary: "List an agent's runs, newest first" })
  @ApiOkResponse({ type: RunPageDto })
  @ApiBadRequestResponse({ description: 'Bad status, limit or cursor.' })
  @ApiNotFoundResponse({ description: 'No such agent definition.' })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) agentId: string,
    @Query() query: ListRunsQueryDto,
  ): Promise<RunPageDto> {
    // Like every route under /agents/:id: another tenant's agent, or none, is a 404.
    await this.agents.get(principal.tenantId, agentId);
    const page = await this.runs.list(principal.tenantId, {
      agentId,
      limit: query.limit ?? DEFAULT_PAGE_SIZE,
      ...(query.status !== undefined && { status: query.status }),
      ...(query.cursor !== undefined && { cursor: query.cursor }),
    });
    return { data: page.items.map(toRunDto), nextCursor: page.nextCursor };
  }

  @Get('runs/:id')
  @Scopes(['agents:read'])
  @ApiOperation({ summary: 'Get one run' })
  @ApiOkResponse({ type: RunDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such run.' })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
  ): Promise<RunDto> {
    return toRunDto(await this.runs.get(principal.tenantId, id));
  }

  @Get('runs/:id/steps')
  @Scopes(['agents:read'])
  @ApiOperation({ summary: "A run's steps (model calls and tool calls), in order" })
  @ApiOkResponse({ type: RunStepListDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such run.' })
  async steps(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
  ): Promise<RunStepListDto> {
    const steps = await this.runs.steps(principal.tenantId, id);
    return { data: steps.map(toRunStepDto) };
  }

  @Get('runs/:id/events')
  @Scopes(['agents:read'])
  @ApiOperation({
    summary: "A run's steps as server-sent events, live until the run ends",
    description:
      'Each step is an `event: step` with `id: <seq>` and the step as `data`; once the run ended ' +
      'and every step was sent, an `event: end` with the run, and the stream closes. ' +
      '`Last-Event-ID` (or `lastEventId`) resumes after that step. Comments keep an idle stream ' +
      'open.',
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The `seq` of the last step received; only later steps are sent.',
  })
  @ApiQuery({
    name: 'lastEventId',
    required: false,
    type: Number,
    description: 'As `Last-Event-ID`, for clients that cannot set headers; the header wins.',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: '`text/event-stream` of `step` events and a final `end` event.' })
  @ApiBadRequestResponse({ description: 'The id is not a UUID, or the last event id not a seq.' })
  @ApiNotFoundResponse({ description: 'No such run.' })
  async events(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
    @Headers('last-event-id') lastEventHeader: string | undefined,
    @Query('lastEventId') lastEventQuery: string | string[] | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const afterSeq = parseLastEventId(lastEventHeader ?? lastEventQuery);
    const { tenantId } = principal;
    // 404 before the stream starts.
    await this.runs.get(tenantId, id);
    const disconnect = new AbortController();
    reply.raw.once('close', () => disconnect.abort());
    const stream = Readable.from(
      runEventStream(this.runs, this.runEvents, tenantId, id, {
        afterSeq,
        signal: disconnect.signal,
      }),
      { objectMode: false },
    );
    stream.once('error', (error) =>
      request.log.warn({ err: error, runId: id }, 'run events failed'),
    );
    void reply
      .code(HttpStatus.OK)
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
      .send(stream);
  }

  @Post('runs/:id/cancel')
  @Scopes(['agents:write'])
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Ask a run to stop',
    description:
      'A queued run is cancelled at once; a running one stops before its next model call; a ' +
      'finished one stays as it is.',
  })
  @ApiAcceptedResponse({ type: RunDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such run.' })
  async cancel(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
  ): Promise<RunDto> {
    return toRunDto(await this.runs.requestCancel(principal.tenantId, id));
  }
}

/** `Last-Event-ID`: a step `seq` (0 or more); absent is 0, every step. */
function parseLastEventId(value: string | string[] | undefined): number {
  if (value === undefined || value === '') return 0;
  if (typeof value !== 'string') {
    throw new InvalidRunRequestError(['Last-Event-ID must be given once']);
  }
  const seq = Number(value.trim());
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(seq)) {
    throw new InvalidRunRequestError(['Last-Event-ID must be a step seq (a non-negative integer)']);
  }
  return seq;
}
