import { Clock } from '@keel/core';
import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';

import { CalculatorTool } from './builtin/calculator.tool';
import { CurrentTimeTool } from './builtin/current-time.tool';
import { HttpGetTool } from './builtin/http-get.tool';
import type {
  ResolvedToolsOptions,
  ToolsModuleOptions,
} from './interfaces/tools-options.interface';
import { ToolRegistry } from './tool-registry.service';
import { ToolResultCache } from './tool-result-cache';
import { resolveToolsOptions } from './tools-options';
import { TOOLS_MODULE_OPTIONS, TOOLS_OPTIONS } from './tools.constants';
import { ToolsConfigurableModuleClass } from './tools.module-definition';

/**
 * The tool registry, its result cache and the built-in tools (`http_get` refuses every host
 * until `HTTP_GET_TOOL_OPTIONS` lists the allowed ones). Tools declared with `@AgentTool` in
 * any other module of the application are found as well. Resilience policies apply when
 * `ResilienceModule` is global or imported alongside. Imported without `forRoot`, it uses
 * the default options (results cached in memory).
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: TOOLS_OPTIONS,
      inject: [{ token: TOOLS_MODULE_OPTIONS, optional: true }],
      useFactory: (options?: ToolsModuleOptions) => resolveToolsOptions(options),
    },
    {
      provide: ToolResultCache,
      inject: [TOOLS_OPTIONS, { token: Clock, optional: true }],
      useFactory: (options: ResolvedToolsOptions, clock?: Clock) =>
        ToolResultCache.fromOptions(options, { clock }),
    },
    ToolRegistry,
    CalculatorTool,
    CurrentTimeTool,
    HttpGetTool,
  ],
  exports: [ToolRegistry, ToolResultCache, TOOLS_OPTIONS],
})
export class ToolsModule extends ToolsConfigurableModuleClass {}
