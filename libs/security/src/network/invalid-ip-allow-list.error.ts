/** An IP allow-list entry is neither an IPv4/IPv6 address nor a CIDR block. */
export class InvalidIpAllowListError extends Error {
  constructor(readonly entry: string) {
    super(
      `Invalid IP allow-list entry "${entry.slice(0, 100)}": expected an IPv4 or IPv6 address ` +
        'or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)',
    );
    this.name = new.target.name;
  }
}
