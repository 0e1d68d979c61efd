import { BadRequestException } from '@nestjs/common';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class InvalidCursorError extends BadRequestException {
  constructor() {
    super('cursor is not a cursor this API returned');
  }
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * One page of `qb` (alias `alias`), oldest first, keyset-paginated on (createdAt, id) so
 * pages stay stable while rows are added.
 */
export async function keysetPage<T extends ObjectLiteral & { createdAt: Date; id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  limit: number,
  cursor?: string,
): Promise<Page<T>> {
  qb.orderBy(`${alias}.createdAt`, 'ASC')
    .addOrderBy(`${alias}.id`, 'ASC')
    .take(limit + 1);
  if (cursor !== undefined) {
    const [millis, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('.');
    if (rest.length > 0 || !/^\d{1,15}$/.test(millis ?? '') || !UUID.test(id ?? '')) {
      throw new InvalidCursorError();
    }
    qb.andWhere(
      `(${alias}.createdAt > :afterCreatedAt OR (${alias}.createdAt = :afterCreatedAt AND ${alias}.id > :afterId))`,
      { afterCreatedAt: new Date(Number(millis)), afterId: id },
    );
  }
  const rows = await qb.getMany();
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor:
      rows.length > limit && last
        ? Buffer.from(`${last.createdAt.getTime()}.${last.id}`).toString('base64url')
        : null,
  };
}
