/** A tool name that no registered provider declares. */
export class UnknownToolError extends Error {
  constructor(
    readonly toolName: string,
    readonly available: readonly string[],
  ) {
    super(
      `Unknown tool "${toolName}"; available tools: ${available.length > 0 ? available.join(', ') : '(none)'}`,
    );
    this.name = new.target.name;
  }
}
