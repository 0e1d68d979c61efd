import { Module } from '@nestjs/common';

import { CircuitsController } from './circuits.controller';

/**
 * Admin routes (`GET /admin/circuits`, `POST /admin/circuits/:name/isolate|reset`), apart
 * from ResilienceModule so an app mounts them under its API prefix and only on purpose.
 * Needs ResilienceModule registered with `isGlobal: true`.
 */
@Module({ controllers: [CircuitsController] })
export class ResilienceAdminModule {}
