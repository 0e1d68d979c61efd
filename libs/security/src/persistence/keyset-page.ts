import { decodeKeysetCursor, encodeKeysetCursor, INVALID_CURSOR_MESSAGE } from '@keel/core';
import { BadRequestException } from '@nestjs/common';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';

export class InvalidCursorError extends BadRequestException {
  constructor() {
    super(INVALID_CURSOR_MESSAGE);
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
    const after = decodeKeysetCursor(cursor, () => new InvalidCursorError());
    qb.andWhere(
      `(${alias}.createdAt > :afterCreatedAt OR (${alias}.createdAt = :afterCreatedAt AND ${alias}.id > :afterId))`,
      { afterCreatedAt: after.createdAt, afterId: after.id },
    );
  }
  const rows = await qb.getMany();
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null,
  };
}
