import { Clock, systemClock } from '@keel/core';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { z } from 'zod';

import { AgentTool } from '../tool.decorator';
import type { AgentToolHandler } from '../tool.types';

const currentTimeInput = z.object({
  timezone: z
    .string()
    .min(1)
    .max(100)
    .refine(isTimeZone, { message: 'Not an IANA time zone, such as "Europe/Paris" or "UTC"' })
    .optional()
    .describe('IANA time zone, for example "Europe/Paris"; UTC when left out'),
});

export type CurrentTimeInput = z.output<typeof currentTimeInput>;

export interface CurrentTimeOutput {
  /** The instant in UTC, ISO 8601 with milliseconds. */
  iso: string;
  /** The zone asked for, spelled as the IANA database does when only its case differs. */
  timezone: string;
  /** Whole seconds since the epoch. */
  unix: number;
  /** The wall-clock time in the zone, ISO 8601 with its offset: `2026-11-25T20:56:30+01:00`. */
  local: string;
}

/** The current date and time, which a model cannot know. */
@AgentTool({
  name: 'current_time',
  description:
    'Returns the current date and time: in UTC, as a Unix timestamp, and as the local time ' +
    'in an IANA time zone (UTC by default).',
  input: currentTimeInput,
  timeoutMs: 1_000,
})
@Injectable()
export class CurrentTimeTool implements AgentToolHandler<CurrentTimeInput, CurrentTimeOutput> {
  private readonly clock: Clock;

  constructor(@Optional() @Inject(Clock) clock?: Clock) {
    this.clock = clock ?? systemClock;
  }

  execute(input: CurrentTimeInput): Promise<CurrentTimeOutput> {
    const now = this.clock.now();
    const asked = input.timezone ?? 'UTC';
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: asked,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    return Promise.resolve({
      iso: new Date(now).toISOString(),
      timezone: spelling(asked, format.resolvedOptions().timeZone),
      unix: Math.floor(now / 1000),
      local: localIso(format, now),
    });
  }
}

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/** ICU resolves some links to old names (Asia/Kolkata to Asia/Calcutta): keep the one asked for. */
function spelling(asked: string, resolved: string): string {
  return resolved.toLowerCase() === asked.toLowerCase() ? resolved : asked;
}

function localIso(format: Intl.DateTimeFormat, now: number): string {
  const parts: Record<string, string> = {};
  for (const { type, value } of format.formatToParts(now)) parts[type] = value;
  // "GMT+01:00", or plain "GMT" for a zero offset.
  const offset = parts.timeZoneName.replace(/^GMT/, '') || '+00:00';
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  return `${date}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}
