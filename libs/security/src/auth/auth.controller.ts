import { Body, Controller, Get, HttpCode, HttpStatus, Post, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { CurrentPrincipal, Public, Roles } from './auth.decorators';
import { LoginLockedError } from './auth.errors';
import type { RequestMeta, TokenPair } from './auth.service';
import { AuthService } from './auth.service';
import { PasswordGrantDto, PrincipalDto, RefreshTokenDto, TokenResponseDto } from './dto/token.dto';
import type { Principal } from './principal';
import { ROLES } from './principal';

function metaOf(request: FastifyRequest): RequestMeta {
  return { ip: request.ip, userAgent: request.headers['user-agent'] };
}

function toResponse(pair: TokenPair, reply: FastifyReply): TokenResponseDto {
  // RFC 6749 5.1: token responses must not be cached.
  reply.header('Cache-Control', 'no-store');
  return {
    access_token: pair.accessToken,
    token_type: 'Bearer',
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    refresh_expires_in: pair.refreshExpiresIn,
  };
}

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('token')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Sign in with email and password' })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiBadRequestResponse({ description: 'Malformed body.' })
  @ApiUnauthorizedResponse({ description: 'Wrong email or password.' })
  @ApiTooManyRequestsResponse({ description: 'Locked out after repeated failures.' })
  async token(
    @Body() body: PasswordGrantDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    try {
      return toResponse(await this.auth.login(body.email, body.password, metaOf(request)), reply);
    } catch (error) {
      if (error instanceof LoginLockedError) reply.header('Retry-After', error.retryAfterSec);
      throw error;
    }
  }

  @Public()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Exchange a refresh token for a new token pair (single use)' })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiUnauthorizedResponse({ description: 'Invalid, expired, revoked or reused refresh token.' })
  async refresh(
    @Body() body: RefreshTokenDto,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponseDto> {
    return toResponse(await this.auth.refresh(body.refresh_token, metaOf(request)), reply);
  }

  @Public()
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke a refresh token and every token rotated from it' })
  @ApiNoContentResponse({ description: 'Revoked (also when the token was unknown).' })
  async logout(@Body() body: RefreshTokenDto, @Req() request: FastifyRequest): Promise<void> {
    await this.auth.logout(body.refresh_token, metaOf(request));
  }

  @Get('me')
  @Roles([...ROLES])
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Who the credentials belong to' })
  @ApiOkResponse({ type: PrincipalDto })
  me(@CurrentPrincipal() principal: Principal): PrincipalDto {
    return {
      kind: principal.kind,
      tenantId: principal.tenantId,
      userId: principal.userId,
      apiKeyId: principal.apiKeyId,
      roles: [...principal.roles],
      scopes: principal.scopes && [...principal.scopes],
    };
  }
}
