import type { Principal } from '@keel/security';
import { CurrentPrincipal, Scopes } from '@keel/security';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';

import type { AgentDefinitionEntity } from './agent-definition.entity';
import { AgentDefinitionsService } from './agent-definitions.service';
import { AgentDefinitionDto, AgentDefinitionPageDto } from './dto/agent-definition.dto';
import { CreateAgentDefinitionDto } from './dto/create-agent-definition.dto';
import { ListAgentDefinitionsQueryDto } from './dto/list-agent-definitions.query.dto';
import { UpdateAgentDefinitionDto } from './dto/update-agent-definition.dto';

const idPipe = new ParseUUIDPipe({ version: '4' });

function toDto(entity: AgentDefinitionEntity): AgentDefinitionDto {
  return {
    id: entity.id,
    name: entity.name,
    description: entity.description,
    instructions: entity.instructions,
    model: entity.model,
    tools: entity.tools,
    maxSteps: entity.maxSteps,
    timeoutMs: entity.timeoutMs,
    createdAt: entity.createdAt.toISOString(),
    updatedAt: entity.updatedAt.toISOString(),
  };
}

@ApiTags('agents')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Missing or invalid credentials.' })
@ApiForbiddenResponse({ description: 'The API key lacks the scope.' })
@Controller('agents')
export class AgentDefinitionsController {
  constructor(private readonly agents: AgentDefinitionsService) {}

  @Post()
  @Scopes(['agents:write'])
  @ApiOperation({ summary: 'Create an agent definition' })
  @ApiCreatedResponse({ type: AgentDefinitionDto })
  @ApiBadRequestResponse({ description: 'A field is missing, malformed or unknown.' })
  @ApiConflictResponse({ description: 'The name is taken.' })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateAgentDefinitionDto,
  ): Promise<AgentDefinitionDto> {
    return toDto(await this.agents.create(principal.tenantId, body));
  }

  @Get()
  @Scopes(['agents:read'])
  @ApiOperation({ summary: 'List agent definitions, oldest first' })
  @ApiOkResponse({ type: AgentDefinitionPageDto })
  @ApiBadRequestResponse({ description: 'Bad limit or cursor.' })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListAgentDefinitionsQueryDto,
  ): Promise<AgentDefinitionPageDto> {
    const page = await this.agents.list(principal.tenantId, query);
    return { data: page.items.map(toDto), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @Scopes(['agents:read'])
  @ApiOperation({ summary: 'Get one agent definition' })
  @ApiOkResponse({ type: AgentDefinitionDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such agent definition.' })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
  ): Promise<AgentDefinitionDto> {
    return toDto(await this.agents.get(principal.tenantId, id));
  }

  @Patch(':id')
  @Scopes(['agents:write'])
  @ApiOperation({ summary: 'Change some fields of an agent definition' })
  @ApiOkResponse({ type: AgentDefinitionDto })
  @ApiBadRequestResponse({ description: 'A field is malformed or unknown.' })
  @ApiNotFoundResponse({ description: 'No such agent definition.' })
  @ApiConflictResponse({ description: 'The new name is taken.' })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
    @Body() body: UpdateAgentDefinitionDto,
  ): Promise<AgentDefinitionDto> {
    return toDto(await this.agents.update(principal.tenantId, id, body));
  }

  @Delete(':id')
  @Scopes(['agents:write'])
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete an agent definition' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiNotFoundResponse({ description: 'No such agent definition.' })
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id', idPipe) id: string,
  ): Promise<void> {
    await this.agents.remove(principal.tenantId, id);
  }
}
