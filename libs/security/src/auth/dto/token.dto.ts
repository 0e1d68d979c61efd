import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export class PasswordGrantDto {
  @ApiProperty({ example: 'admin@example.com', maxLength: 320 })
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(320)
  email!: string;

  @ApiProperty({ minLength: 1, maxLength: 1024, writeOnly: true })
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  password!: string;
}

export class RefreshTokenDto {
  @ApiProperty({ description: 'The `refresh_token` of the last token response.' })
  @IsString()
  @MaxLength(200)
  @Matches(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/, { message: 'refresh_token is malformed' })
  refresh_token!: string;
}

/** The OAuth 2.0 token response shape (RFC 6749 section 5.1). */
export class TokenResponseDto {
  @ApiProperty({ description: 'A JWT to send as `Authorization: Bearer <token>`.' })
  access_token!: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the access token expires.' })
  expires_in!: number;

  @ApiProperty({ description: 'Single use: exchange it at /v1/auth/refresh for the next pair.' })
  refresh_token!: string;

  @ApiProperty({ description: 'Seconds until the refresh token expires unless used first.' })
  refresh_expires_in!: number;
}

export class PrincipalDto {
  @ApiProperty({ enum: ['user', 'api-key'] })
  kind!: 'user' | 'api-key';

  @ApiProperty()
  tenantId!: string;

  @ApiProperty()
  userId!: string;

  @ApiProperty({ required: false })
  apiKeyId?: string;

  @ApiProperty({ type: [String] })
  roles!: string[];

  @ApiProperty({ type: [String], nullable: true, description: 'null: a user token, every scope.' })
  scopes!: string[] | null;
}
