/** Options as given to `GatewayModule.forRoot`/`forRootAsync`. */
export const GATEWAY_MODULE_OPTIONS = Symbol('GATEWAY_MODULE_OPTIONS');
/** Options after defaults and validation. */
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');
