import { IpRestricted, Roles, Scopes } from '@keel/security';
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
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';

import { CreateLlmProviderDto } from './dto/create-llm-provider.dto';
import { LlmProviderDto, LlmProviderListDto } from './dto/llm-provider.dto';
import { UpdateLlmProviderDto } from './dto/update-llm-provider.dto';
import type { StoredProviderEntity } from './stored-provider.entity';
import { StoredProvidersService } from './stored-providers.service';

const idPipe = new ParseUUIDPipe({ version: '4' });

/** The API's view of a stored provider: never the key, only whether there is one. */
export function toLlmProviderDto(entity: StoredProviderEntity): LlmProviderDto {
  return {
    id: entity.id,
    name: entity.name,
    kind: entity.kind,
    baseUrl: entity.baseUrl,
    hasApiKey: entity.apiKeyCiphertext !== null,
    models: [...entity.models],
    createdAt: new Date(entity.createdAt).toISOString(),
    updatedAt: new Date(entity.updatedAt).toISOString(),
  };
}

/** LLM providers stored in the database, for Keel-wide administrators; live in the gateway. */
@ApiTags('admin')
@ApiBearerAuth()
@Roles(['admin'])
@Scopes(['admin'])
@IpRestricted()
@Controller('admin/llm-providers')
export class AdminLlmProvidersController {
  constructor(private readonly providers: StoredProvidersService) {}

  @Post()
  @ApiOperation({ summary: 'Store an LLM provider; the gateway can use it at once' })
  @ApiCreatedResponse({ type: LlmProviderDto })
  @ApiBadRequestResponse({ description: 'The provider cannot work; every problem is named.' })
  @ApiConflictResponse({
    description: 'The name is taken, or an apiKey was given and ENCRYPTION_KEYS is not set.',
  })
  async create(@Body() body: CreateLlmProviderDto): Promise<LlmProviderDto> {
    return toLlmProviderDto(await this.providers.create(body));
  }

  @Get()
  @ApiOperation({ summary: 'List stored LLM providers, by name' })
  @ApiOkResponse({ type: LlmProviderListDto })
  async list(): Promise<LlmProviderListDto> {
    return { data: (await this.providers.list()).map(toLlmProviderDto) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a stored LLM provider' })
  @ApiOkResponse({ type: LlmProviderDto })
  @ApiNotFoundResponse({ description: 'No such provider.' })
  async get(@Param('id', idPipe) id: string): Promise<LlmProviderDto> {
    return toLlmProviderDto(await this.providers.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a stored LLM provider; absent fields stay' })
  @ApiOkResponse({ type: LlmProviderDto })
  @ApiBadRequestResponse({ description: 'The provider would not work; every problem is named.' })
  @ApiNotFoundResponse({ description: 'No such provider.' })
  @ApiConflictResponse({
    description:
      'The name is taken, an apiKey was given and ENCRYPTION_KEYS is not set, or the stored ' +
      'key cannot be decrypted and no new one was given.',
  })
  async update(
    @Param('id', idPipe) id: string,
    @Body() body: UpdateLlmProviderDto,
  ): Promise<LlmProviderDto> {
    return toLlmProviderDto(await this.providers.update(id, body));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Delete a stored LLM provider; the gateway stops using it at once' })
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiNotFoundResponse({ description: 'No such provider.' })
  async remove(@Param('id', idPipe) id: string): Promise<void> {
    await this.providers.remove(id);
  }
}
