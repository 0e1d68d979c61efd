import { randomUUID } from 'node:crypto';

import { isUniqueViolation, Clock, systemClock } from '@keel/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';

import { TenantNameTakenError, TenantNotFoundError } from '../errors/not-found.errors';
import type { Page } from '../persistence/keyset-page';
import { keysetPage } from '../persistence/keyset-page';
import { TenantEntity } from './tenant.entity';

@Injectable()
export class TenantsService {
  constructor(
    @InjectRepository(TenantEntity) private readonly tenants: Repository<TenantEntity>,
    @Optional() @Inject(Clock) private readonly clock: Clock = systemClock,
  ) {}

  async create(name: string, id: string = randomUUID()): Promise<TenantEntity> {
    const now = new Date(this.clock.now());
    const tenant = this.tenants.create({ id, name, createdAt: now, updatedAt: now });
    try {
      await this.tenants.insert(tenant);
    } catch (error) {
      if (isUniqueViolation(error)) throw new TenantNameTakenError(name);
      throw error;
    }
    return tenant;
  }

  list(limit: number, cursor?: string): Promise<Page<TenantEntity>> {
    return keysetPage(this.tenants.createQueryBuilder('t'), 't', limit, cursor);
  }

  async get(id: string): Promise<TenantEntity> {
    const tenant = await this.tenants.findOneBy({ id });
    if (!tenant) throw new TenantNotFoundError(id);
    return tenant;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.tenants.countBy({ id })) > 0;
  }

  async rename(id: string, name: string): Promise<TenantEntity> {
    const tenant = await this.get(id);
    tenant.name = name;
    tenant.updatedAt = new Date(this.clock.now());
    try {
      await this.tenants.update({ id }, { name, updatedAt: tenant.updatedAt });
    } catch (error) {
      if (isUniqueViolation(error)) throw new TenantNameTakenError(name);
      throw error;
    }
    return tenant;
  }
}
