import { randomUUID } from 'node:crypto';

import {
  decodeKeysetCursor,
  encodeKeysetCursor,
  INVALID_CURSOR_MESSAGE,
  isUniqueViolation,
} from '@keel/core';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import { AGENTS_OPTIONS } from '../agents.constants';
import { AgentDefinitionNotFoundError } from '../errors/agent-definition-not-found.error';
import { AgentNameTakenError } from '../errors/agent-name-taken.error';
import { InvalidPageRequestError } from '../errors/invalid-page-request.error';
import type { ResolvedAgentsOptions } from '../interfaces/agents-options.interface';
import { AgentDefinitionEntity } from './agent-definition.entity';
import type { CreateAgentDefinitionDto } from './dto/create-agent-definition.dto';
import type { UpdateAgentDefinitionDto } from './dto/update-agent-definition.dto';

export interface AgentDefinitionPage {
  items: AgentDefinitionEntity[];
  nextCursor: string | null;
}

@Injectable()
export class AgentDefinitionsService {
  constructor(
    @InjectRepository(AgentDefinitionEntity)
    private readonly repository: Repository<AgentDefinitionEntity>,
    @Inject(AGENTS_OPTIONS) private readonly options: ResolvedAgentsOptions,
  ) {}

  async create(tenantId: string, input: CreateAgentDefinitionDto): Promise<AgentDefinitionEntity> {
    const now = new Date();
    const entity = this.repository.create({
      id: randomUUID(),
      tenantId,
      name: input.name,
      description: input.description ?? '',
      instructions: input.instructions,
      model: input.model,
      tools: input.tools ?? [],
      maxSteps: input.maxSteps ?? 10,
      timeoutMs: input.timeoutMs ?? 120_000,
      createdAt: now,
      updatedAt: now,
    });
    await this.write(entity.name, () => this.repository.insert(entity));
    return entity;
  }

  /**
   * The tenant's definitions, oldest first, keyset-paginated on (createdAt, id) so pages stay
   * stable under inserts.
   */
  async list(
    tenantId: string,
    query: { limit?: number; cursor?: string },
  ): Promise<AgentDefinitionPage> {
    const limit = query.limit ?? this.options.defaultPageSize;
    if (limit > this.options.maxPageSize) {
      throw new InvalidPageRequestError(`limit must not exceed ${this.options.maxPageSize}`);
    }
    const qb = this.repository
      .createQueryBuilder('a')
      .where('a.tenantId = :tenantId', { tenantId })
      .orderBy('a.createdAt', 'ASC')
      .addOrderBy('a.id', 'ASC')
      .take(limit + 1);
    if (query.cursor !== undefined) {
      const after = decodeKeysetCursor(
        query.cursor,
        () => new InvalidPageRequestError(INVALID_CURSOR_MESSAGE),
      );
      qb.andWhere('(a.createdAt > :createdAt OR (a.createdAt = :createdAt AND a.id > :id))', after);
    }
    const rows = await qb.getMany();
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null,
    };
  }

  /** Another tenant's definition is "not found", never "forbidden": ids reveal nothing. */
  async get(tenantId: string, id: string): Promise<AgentDefinitionEntity> {
    const entity = await this.repository.findOneBy({ id, tenantId });
    if (!entity) throw new AgentDefinitionNotFoundError(id);
    return entity;
  }

  async update(
    tenantId: string,
    id: string,
    changes: UpdateAgentDefinitionDto,
  ): Promise<AgentDefinitionEntity> {
    const entity = await this.get(tenantId, id);
    const defined = Object.fromEntries(
      Object.entries(changes).filter(([, value]) => value !== undefined),
    ) as Partial<AgentDefinitionEntity>;
    Object.assign(entity, defined, { updatedAt: new Date() });
    await this.write(entity.name, () => this.repository.save(entity));
    return entity;
  }

  async remove(tenantId: string, id: string): Promise<void> {
    const result = await this.repository.delete({ id, tenantId });
    if (!result.affected) throw new AgentDefinitionNotFoundError(id);
  }

  private async write(name: string, operation: () => Promise<unknown>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AgentNameTakenError(name);
      throw error;
    }
  }
}
