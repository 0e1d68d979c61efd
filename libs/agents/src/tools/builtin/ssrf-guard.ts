import { isIP } from 'node:net';

/**
 * What the `http_get` tool may reach. Every field has a default
 * ({@link DEFAULT_HTTP_GET_POLICY}); {@link resolveHttpGetPolicy} fills and validates them.
 */
export interface HttpGetPolicy {
  /**
   * Hosts the tool may fetch from: exact host names or IP addresses (`api.example.com`,
   * `127.0.0.1`, `::1`), or `*.example.com` for any subdomain of `example.com` at any depth
   * (not `example.com` itself). Matched without case and without a trailing dot, on the URL
   * and on every redirect target. Empty: nothing is allowed.
   * @default []
   */
  allowedHosts: string[];
  /**
   * Also connect to loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7,
   * fec0::/10) and shared CGNAT (100.64/10) addresses. Link-local addresses (169.254/16,
   * fe80::/10), cloud metadata endpoints, 0.0.0.0/8, multicast, broadcast and reserved ranges
   * stay refused whatever this says.
   * @default false
   */
  allowPrivateAddresses: boolean;
  /** Body bytes read at most; the rest is dropped and the result marked truncated. @default 1 MiB */
  maxResponseBytes: number;
  /** The whole call, DNS and redirects included. At most {@link HTTP_GET_MAX_TIMEOUT_MS}. @default 10000 */
  timeoutMs: number;
  /** Redirects followed at most (each checked like the first URL); 0 follows none. @default 3 */
  maxRedirects: number;
}

/** The ceiling of {@link HttpGetPolicy.timeoutMs}; the tool's own deadline sits above it. */
export const HTTP_GET_MAX_TIMEOUT_MS = 60_000;

export const DEFAULT_HTTP_GET_POLICY: Readonly<HttpGetPolicy> = Object.freeze({
  allowedHosts: [],
  allowPrivateAddresses: false,
  maxResponseBytes: 1024 * 1024,
  timeoutMs: 10_000,
  maxRedirects: 3,
});

/**
 * Fills in the defaults and checks the values.
 * @throws TypeError naming the first unusable field or allow-list entry.
 */
export function resolveHttpGetPolicy(options: Partial<HttpGetPolicy> = {}): HttpGetPolicy {
  if (options.allowedHosts !== undefined && !Array.isArray(options.allowedHosts)) {
    throw new TypeError('http_get: allowedHosts must be an array of host names');
  }
  const policy: HttpGetPolicy = {
    allowedHosts: [...(options.allowedHosts ?? DEFAULT_HTTP_GET_POLICY.allowedHosts)],
    allowPrivateAddresses:
      options.allowPrivateAddresses ?? DEFAULT_HTTP_GET_POLICY.allowPrivateAddresses,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_HTTP_GET_POLICY.maxResponseBytes,
    timeoutMs: options.timeoutMs ?? DEFAULT_HTTP_GET_POLICY.timeoutMs,
    maxRedirects: options.maxRedirects ?? DEFAULT_HTTP_GET_POLICY.maxRedirects,
  };
  if (typeof policy.allowPrivateAddresses !== 'boolean') {
    throw new TypeError('http_get: allowPrivateAddresses must be a boolean');
  }
  if (!Number.isSafeInteger(policy.maxResponseBytes) || policy.maxResponseBytes < 1) {
    throw new TypeError('http_get: maxResponseBytes must be a positive integer');
  }
  if (
    !Number.isSafeInteger(policy.timeoutMs) ||
    policy.timeoutMs < 1 ||
    policy.timeoutMs > HTTP_GET_MAX_TIMEOUT_MS
  ) {
    throw new TypeError(
      `http_get: timeoutMs must be an integer from 1 to ${HTTP_GET_MAX_TIMEOUT_MS}`,
    );
  }
  if (!Number.isSafeInteger(policy.maxRedirects) || policy.maxRedirects < 0) {
    throw new TypeError('http_get: maxRedirects must be zero or a positive integer');
  }
  // Validates every entry.
  new HostAllowList(policy.allowedHosts);
  return policy;
}

/**
 * {@link HttpGetPolicy.allowedHosts}, compiled. Entries and hosts are compared after the
 * WHATWG URL host parser normalized them (lower case, punycode, canonical IPv4 and IPv6).
 */
export class HostAllowList {
  private readonly exact = new Set<string>();
  /** `.example.com` for `*.example.com`. */
  private readonly suffixes: string[] = [];

  /** @throws TypeError when an entry is not a host name, an IP address or `*.domain`. */
  constructor(entries: Iterable<string>) {
    for (const raw of entries) {
      if (typeof raw !== 'string') throw new TypeError('http_get: allowedHosts must be strings');
      const entry = raw.trim();
      if (entry.startsWith('*.')) {
        const suffix = normalizeHostEntry(entry.slice(2), raw);
        if (isIP(suffix) !== 0) throw invalidEntry(raw, 'a wildcard needs a domain name');
        this.suffixes.push(`.${suffix}`);
      } else {
        this.exact.add(normalizeHostEntry(entry, raw));
      }
    }
  }

  get isEmpty(): boolean {
    return this.exact.size === 0 && this.suffixes.length === 0;
  }

  /** `host` as `URL.hostname` gives it (IPv6 in brackets or not). */
  matches(host: string): boolean {
    const normalized = normalizeHost(host);
    if (normalized === '') return false;
    if (this.exact.has(normalized)) return true;
    if (isIP(normalized) !== 0) return false;
    return this.suffixes.some(
      (suffix) => normalized.endsWith(suffix) && normalized.length > suffix.length,
    );
  }
}

/** A URL's hostname without IPv6 brackets or a trailing dot, in lower case. */
export function normalizeHost(hostname: string): string {
  let host = hostname.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

function normalizeHostEntry(entry: string, raw: string): string {
  let text = entry.trim();
  if (text === '') throw invalidEntry(raw, 'it is empty');
  if (isIP(text) === 6) text = `[${text}]`;
  if (/[\s/\\?#@*%]/.test(text) || (text.includes(':') && !text.startsWith('['))) {
    throw invalidEntry(raw, 'give a host name or IP address only: no scheme, port or path');
  }
  let url: URL;
  try {
    url = new URL(`http://${text}`);
  } catch {
    throw invalidEntry(raw, 'it is not a valid host name');
  }
  if (url.port !== '' || url.pathname !== '/') {
    throw invalidEntry(raw, 'give a host name or IP address only: no scheme, port or path');
  }
  const host = normalizeHost(url.hostname);
  if (host === '') throw invalidEntry(raw, 'it is not a valid host name');
  return host;
}

function invalidEntry(entry: string, why: string): TypeError {
  return new TypeError(`http_get: allowedHosts entry "${entry}" is invalid: ${why}`);
}

/**
 * The kind of an IP address, as {@link classifyAddress} sees it. Only `public` is reachable by
 * default; `loopback`, `private` and `shared` also with `allowPrivateAddresses`.
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  /** 100.64.0.0/10, carrier-grade NAT. */
  | 'shared'
  | 'link-local'
  /** Cloud instance-metadata endpoints (169.254.169.254, fd00:ec2::254, 100.100.100.200). */
  | 'metadata'
  /** 0.0.0.0/8 and `::`: "this host", which Linux connects to as the loopback. */
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  /** Documentation, benchmarking, IETF protocol assignments, future use, Teredo... */
  | 'reserved'
  /** Not an IP address at all. */
  | 'invalid';

const PRIVATE_CLASSES: ReadonlySet<AddressClass> = new Set(['loopback', 'private', 'shared']);

/**
 * Whether the tool must not connect to `ip`: everything but a public address, and with
 * `allowPrivateAddresses` also loopback, private and shared (CGNAT) addresses. IPv4 inside
 * IPv6 (`::ffff:127.0.0.1`, NAT64 `64:ff9b::7f00:1`, 6to4 `2002:7f00:1::`) is judged by the
 * IPv4 address. Anything that is not an IP address is forbidden.
 */
export function isForbiddenAddress(
  ip: string,
  policy: Pick<HttpGetPolicy, 'allowPrivateAddresses'> = DEFAULT_HTTP_GET_POLICY,
): boolean {
  const kind = classifyAddress(ip);
  if (kind === 'public') return false;
  return !(policy.allowPrivateAddresses && PRIVATE_CLASSES.has(kind));
}

/** True for the classes `allowPrivateAddresses` lets through. */
export function isPrivateClass(kind: AddressClass): boolean {
  return PRIVATE_CLASSES.has(kind);
}

/** Classifies an IPv4 or IPv6 address (a zone id, `fe80::1%eth0`, is ignored). */
export function classifyAddress(ip: string): AddressClass {
  if (typeof ip !== 'string') return 'invalid';
  const text = ip.trim();
  const family = isIP(text);
  if (family === 4) return classifyIPv4(parseIPv4(text));
  if (family === 6) {
    const bytes = parseIPv6(text);
    return bytes ? classifyIPv6(bytes) : 'invalid';
  }
  return 'invalid';
}

/** [network, prefix length, class], most specific first: the first match wins. */
const IPV4_RANGES: ReadonlyArray<readonly [string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.100.100.200', 32, 'metadata'], // Alibaba Cloud
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.169.254', 32, 'metadata'], // AWS, GCP, Azure, OCI, DigitalOcean...
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // TEST-NET-1
  ['192.88.99.0', 24, 'reserved'], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'], // benchmarking
  ['198.51.100.0', 24, 'reserved'], // TEST-NET-2
  ['203.0.113.0', 24, 'reserved'], // TEST-NET-3
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'], // future use
];

const IPV4_TABLE = IPV4_RANGES.map(([network, prefix, kind]) => {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (parseIPv4(network) & mask) >>> 0, mask, kind };
});

function classifyIPv4(value: number): AddressClass {
  for (const range of IPV4_TABLE) {
    if ((value & range.mask) >>> 0 === range.network) return range.kind;
  }
  return 'public';
}

/** Dotted quad (already checked by `isIP`) to an unsigned 32-bit number. */
function parseIPv4(text: string): number {
  return text.split('.').reduce((value, part) => value * 256 + Number(part), 0) >>> 0;
}

function classifyIPv6(b: Uint8Array): AddressClass {
  const word = (i: number): number => (b[i * 2] << 8) | b[i * 2 + 1];
  const zeros = (from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);
  const ipv4At = (i: number): number =>
    ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

  if (zeros(0, 10)) {
    if (word(5) === 0xffff) return classifyIPv4(ipv4At(12)); // ::ffff:a.b.c.d, IPv4-mapped
    if (zeros(10, 15)) {
      if (b[15] === 0) return 'unspecified'; // ::
      if (b[15] === 1) return 'loopback'; // ::1
    }
    return 'reserved'; // IPv4-compatible (::a.b.c.d, deprecated) and the rest of ::/80
  }
  if (zeros(0, 8) && word(4) === 0xffff && word(5) === 0) return 'reserved'; // ::ffff:0:0:0/96, SIIT
  // NAT64: the well-known prefix reaches the embedded IPv4 address.
  if (word(0) === 0x64 && word(1) === 0xff9b && zeros(4, 12)) {
    return classifyIPv4(ipv4At(12));
  }
  if (word(0) === 0x64 && word(1) === 0xff9b && word(2) === 1) {
    const embedded = classifyIPv4(ipv4At(12));
    return embedded === 'public' ? 'private' : embedded; // local-use NAT64 (RFC 8215)
  }
  if (word(0) === 0x0100 && zeros(2, 8)) return 'reserved'; // 100::/64, discard-only
  if (word(0) === 0x2002) return classifyIPv4(ipv4At(2)); // 6to4 embeds the IPv4 address
  if (word(0) === 0x2001 && b[2] < 0x02) return 'reserved'; // 2001::/23: Teredo, ORCHID...
  if (word(0) === 0x2001 && word(1) === 0x0db8) return 'reserved'; // documentation
  if ((word(0) & 0xfff0) === 0x3ff0) return 'reserved'; // 3fff::/20, documentation
  if (word(0) === 0xfd00 && word(1) === 0x0ec2 && zeros(4, 14) && word(7) === 0x0254) {
    return 'metadata'; // fd00:ec2::254, AWS
  }
  if ((b[0] & 0xfe) === 0xfc) return 'private'; // fc00::/7, unique local
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local'; // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 'private'; // fec0::/10, site-local
  if (b[0] === 0xff) return 'multicast';
  if ((b[0] & 0xe0) !== 0x20) return 'reserved'; // outside 2000::/3, global unicast
  return 'public';
}

/** 16 bytes of an IPv6 address `isIP` accepted, or undefined. */
function parseIPv6(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%');
  let address = (zone === -1 ? text : text.slice(0, zone)).toLowerCase();
  const words: number[] = [];
  // A trailing dotted quad becomes two 16-bit words.
  const lastColon = address.lastIndexOf(':');
  const tail = address.slice(lastColon + 1);
  let ipv4Words: number[] = [];
  if (tail.includes('.')) {
    if (isIP(tail) !== 4) return undefined;
    const value = parseIPv4(tail);
    ipv4Words = [value >>> 16, value & 0xffff];
    // '::ffff:' → '::ffff', '::' stays, '1:2:3:4:5:6:' → '1:2:3:4:5:6'.
    address = address.slice(0, lastColon + 1);
    if (!address.endsWith('::')) address = address.slice(0, -1);
  }
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':').map((group) => Number.parseInt(group, 16));
    return groups.some((group) => Number.isNaN(group) || group > 0xffff) ? undefined : groups;
  };
  const doubleColon = address.indexOf('::');
  if (doubleColon === -1) {
    const groups = parseGroups(address);
    if (!groups) return undefined;
    words.push(...groups, ...ipv4Words);
  } else {
    const head = parseGroups(address.slice(0, doubleColon));
    const rest = parseGroups(address.slice(doubleColon + 2));
    if (!head || !rest) return undefined;
    const missing = 8 - head.length - rest.length - ipv4Words.length;
    if (missing < 0) return undefined;
    words.push(...head, ...new Array<number>(missing).fill(0), ...rest, ...ipv4Words);
  }
  if (words.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >>> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}
