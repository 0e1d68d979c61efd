import { ApiProperty } from '@nestjs/swagger';

import { ROLES } from '../../auth/principal';
import type { Role } from '../../auth/principal';
import { API_KEY_SCOPES } from '../api-key-scopes';
import type { ApiKeyScope } from '../api-key-scopes';

/** A stored key as lists show it: never the key or its hash. */
export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ci-deploy' })
  name!: string;

  @ApiProperty({
    description: 'The public part of the key, after `keel_`.',
    example: 'Ab3dEf6hIj9k',
  })
  prefix!: string;

  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true })
  scopes!: ApiKeyScope[];

  @ApiProperty({
    enum: ROLES,
    isArray: true,
    description: "The creator's roles when the key was created; the key acts with them.",
  })
  roles!: Role[];

  @ApiProperty({ description: 'The user who created the key.' })
  userId!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt!: string | null;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Updated at most once a minute.',
  })
  lastUsedAt!: string | null;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] })
  data!: ApiKeyDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to get the next page; null on the last page.',
  })
  nextCursor!: string | null;
}

/** The answer to a create: the only time the key itself is shown. */
export class CreatedApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'ci-deploy' })
  name!: string;

  @ApiProperty({ example: 'Ab3dEf6hIj9k' })
  prefix!: string;

  @ApiProperty({ enum: API_KEY_SCOPES, isArray: true })
  scopes!: ApiKeyScope[];

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({
    description: 'The key; store it now, it is never shown again.',
    example: 'keel_Ab3dEf6hIj9k_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg',
  })
  key!: string;
}
