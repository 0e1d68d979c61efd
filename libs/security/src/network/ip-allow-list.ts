import { BlockList, isIP } from 'node:net';

import { InvalidIpAllowListError } from './invalid-ip-allow-list.error';

const MAPPED_IPV4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;
const PREFIX = /^\d{1,3}$/;

/**
 * Addresses and CIDR blocks (IPv4 and IPv6) allowed to reach a route. An empty list allows
 * every address. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as their IPv4 address.
 * Note that Node's `BlockList` matches IPv4 addresses against IPv6 rules through their
 * mapped form, so `::/0` allows everything.
 */
export class IpAllowList {
  /** The entries as given (trimmed). */
  readonly entries: readonly string[];
  private readonly blockList = new BlockList();

  /** Throws {@link InvalidIpAllowListError} naming the first unusable entry. */
  constructor(entries: Iterable<string> = []) {
    const accepted: string[] = [];
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '') continue;
      this.add(entry);
      accepted.push(entry);
    }
    this.entries = Object.freeze(accepted);
  }

  /** True when the list is empty, i.e. it restricts nothing. */
  get allowsAll(): boolean {
    return this.entries.length === 0;
  }

  /** Whether `ip` may pass; a missing or malformed address never does (unless the list is empty). */
  allows(ip: string | undefined | null): boolean {
    if (this.allowsAll) return true;
    if (typeof ip !== 'string') return false;
    const address = normalize(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.blockList.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  private add(entry: string): void {
    const slash = entry.indexOf('/');
    const written = slash === -1 ? entry : entry.slice(0, slash);
    const address = normalize(written);
    const family = isIP(address);
    if (family === 0 || written.includes('%')) throw new InvalidIpAllowListError(entry);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (slash === -1) {
      this.blockList.addAddress(address, type);
      return;
    }
    let prefixText = entry.slice(slash + 1);
    let prefix = Number(prefixText);
    // `::ffff:10.0.0.0/104` is `10.0.0.0/8` once the address is taken as IPv4.
    if (family === 4 && address !== written && prefix >= 96) {
      prefix -= 96;
      prefixText = String(prefix);
    }
    if (!PREFIX.test(prefixText) || prefix > (family === 4 ? 32 : 128)) {
      throw new InvalidIpAllowListError(entry);
    }
    this.blockList.addSubnet(address, prefix, type);
  }
}

/**
 * Splits a comma- or whitespace-separated list (`'10.0.0.0/8, ::1'`) into entries for
 * {@link IpAllowList}; does not validate them.
 */
export function parseCidrList(value: string | undefined | null): string[] {
  if (!value) return [];
  return value
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** IPv4-mapped IPv6 becomes IPv4; a zone id (`fe80::1%eth0`) is dropped. */
function normalize(ip: string): string {
  const trimmed = ip.trim();
  const mapped = MAPPED_IPV4.exec(trimmed);
  if (mapped?.[1] && isIP(mapped[1]) === 4) return mapped[1];
  const zone = trimmed.indexOf('%');
  return zone === -1 ? trimmed : trimmed.slice(0, zone);
}
