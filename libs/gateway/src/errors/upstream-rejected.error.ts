import { HttpException } from '@nestjs/common';

/**
 * The serving vendor refused the request itself (400, 404, 413, 422): the caller's request
 * is wrong for that model, so the status is passed on with the vendor's message, cut short.
 * Never used for the vendor refusing Keel's credentials: that is Keel's fault (502).
 */
export class UpstreamRejectedError extends HttpException {
  constructor(
    readonly provider: string,
    status: number,
    vendorMessage: string,
  ) {
    super(`The provider "${provider}" rejected the request: ${vendorMessage}`, status);
  }
}
