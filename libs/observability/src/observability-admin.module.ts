import { Module } from '@nestjs/common';

import { ErrorsController } from './errors/errors.controller';

/**
 * Admin routes (`GET /admin/errors`), apart from ObservabilityModule so the app mounts
 * them under its API prefix while `/metrics` stays at the root. Needs ObservabilityModule
 * registered with `isGlobal: true`.
 */
@Module({ controllers: [ErrorsController] })
export class ObservabilityAdminModule {}
