import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';

import { CalculatorTool } from './builtin/calculator.tool';
import { CurrentTimeTool } from './builtin/current-time.tool';
import { HttpGetTool } from './builtin/http-get.tool';
import { ToolRegistry } from './tool-registry.service';

/**
 * The tool registry and the built-in tools (`http_get` refuses every host until
 * `HTTP_GET_TOOL_OPTIONS` lists the allowed ones). Tools declared with `@AgentTool` in any other
 * module of the application are found as well. Resilience policies apply when
 * `ResilienceModule` is global or imported alongside.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [ToolRegistry, CalculatorTool, CurrentTimeTool, HttpGetTool],
  exports: [ToolRegistry],
})
export class ToolsModule {}
