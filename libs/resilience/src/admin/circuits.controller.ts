import {
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';

import type { DependencyPolicy } from '../policy/dependency-policy';
import { PolicyRegistry } from '../policy-registry.service';
import { CircuitDto } from './dto/circuit.dto';

/**
 * Breaker states and manual isolation. Anyone who reaches it can cut a dependency off:
 * the app must protect it (admins only, internal network).
 */
@ApiTags('admin')
@Controller('admin/circuits')
export class CircuitsController {
  constructor(private readonly registry: PolicyRegistry) {}

  @Get()
  @ApiOperation({ summary: 'Circuit breaker state of every dependency' })
  @ApiOkResponse({ type: CircuitDto, isArray: true })
  list(): CircuitDto[] {
    return this.registry.list().map((policy) => ({
      dependency: policy.name,
      state: policy.breakerState,
      critical: policy.critical,
    }));
  }

  @Post(':name/isolate')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Hold a breaker open (calls fail fast) until it is reset' })
  @ApiNoContentResponse({ description: 'Isolated.' })
  @ApiNotFoundResponse({ description: 'No dependency has this name.' })
  isolate(@Param('name') name: string): void {
    this.policy(name).isolate();
  }

  @Post(':name/reset')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Close a breaker and clear its counts' })
  @ApiNoContentResponse({ description: 'Closed.' })
  @ApiNotFoundResponse({ description: 'No dependency has this name.' })
  reset(@Param('name') name: string): void {
    this.policy(name).reset();
  }

  private policy(name: string): DependencyPolicy {
    if (!this.registry.has(name)) throw new NotFoundException(`No dependency named "${name}"`);
    return this.registry.get(name);
  }
}
