/** OpenAI's rule for function names, which the other vendors accept too. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

/** A failed tool's message is cut to this length before it goes back to the model. */
export const MAX_TOOL_ERROR_LENGTH = 500;

/** Validation issues listed in an `invalid_arguments` message; the rest are counted. */
export const MAX_LISTED_ISSUES = 10;

/** `ToolsModule.forRoot` options, as given. */
export const TOOLS_MODULE_OPTIONS = Symbol('TOOLS_MODULE_OPTIONS');

/** `ToolsModule` options with their defaults filled in (`ResolvedToolsOptions`). */
export const TOOLS_OPTIONS = Symbol('TOOLS_OPTIONS');

export const DEFAULT_TOOL_CACHE_MAX_ENTRIES = 10_000;

export const DEFAULT_TOOL_CACHE_KEY_PREFIX = 'keel:tools:cache:';
