import {
  classifyAddress,
  DEFAULT_HTTP_GET_POLICY,
  HostAllowList,
  isForbiddenAddress,
  resolveHttpGetPolicy,
} from './ssrf-guard';
import type { AddressClass } from './ssrf-guard';

describe('classifyAddress', () => {
  it.each<[string, AddressClass]>([
    // IPv4
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.216.34', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.63.255.255', 'public'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.0', 'public'],
    ['100.100.100.200', 'metadata'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['192.169.0.1', 'public'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::2', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['100::1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'], // Teredo
    ['3fff::1', 'reserved'],
    ['4000::1', 'reserved'],
    // IPv4 inside IPv6
    ['::ffff:127.0.0.1', 'loopback'],
    ['::FFFF:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'reserved'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::808:808', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', 'public'],
    // Not addresses
    ['', 'invalid'],
    ['localhost', 'invalid'],
    ['127.1', 'invalid'],
    ['2130706433', 'invalid'],
    ['0x7f.0.0.1', 'invalid'],
    ['1.2.3.256', 'invalid'],
    ['[::1]', 'invalid'],
  ])('%s is %s', (ip, expected) => {
    expect(classifyAddress(ip)).toBe(expected);
  });
});

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '100.64.0.1',
    '::1',
    'fd00::1',
    '::ffff:192.168.0.1',
    '169.254.169.254',
    '0.0.0.0',
    '255.255.255.255',
    'not-an-ip',
  ])('forbids %s by default', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(true);
    expect(isForbiddenAddress(ip, { allowPrivateAddresses: false })).toBe(true);
  });

  it.each(['8.8.8.8', '2606:4700:4700::1111', '::ffff:1.1.1.1'])('allows public %s', (ip) => {
    expect(isForbiddenAddress(ip)).toBe(false);
  });

  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.0.1', '100.64.0.1', '::1', 'fd00::1'])(
    'allows %s with allowPrivateAddresses',
    (ip) => {
      expect(isForbiddenAddress(ip, { allowPrivateAddresses: true })).toBe(false);
    },
  );

  it.each([
    '169.254.169.254',
    '169.254.10.10',
    'fe80::1',
    'fd00:ec2::254',
    '100.100.100.200',
    '0.0.0.0',
    '::',
    '224.0.0.1',
    '255.255.255.255',
    '192.0.2.1',
    'not-an-ip',
  ])('still forbids %s with allowPrivateAddresses', (ip) => {
    expect(isForbiddenAddress(ip, { allowPrivateAddresses: true })).toBe(true);
  });
});

describe('HostAllowList', () => {
  const list = new HostAllowList([
    'api.example.com',
    '*.example.org',
    'EXAMPLE.net.',
    '127.0.0.1',
    '::1',
    'bücher.de',
  ]);

  it.each([
    ['api.example.com', true],
    ['API.Example.COM', true],
    ['api.example.com.', true],
    ['www.example.com', false],
    ['example.com', false],
    ['evilapi.example.com', false],
    ['a.example.org', true],
    ['a.b.example.org', true],
    ['example.org', false],
    ['badexample.org', false],
    ['example.org.evil.com', false],
    ['example.net', true],
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['[::1]', true],
    ['::1', true],
    ['xn--bcher-kva.de', true],
    ['', false],
  ])('%s → %s', (host, expected) => {
    expect(list.matches(host)).toBe(expected);
  });

  it('is empty without entries', () => {
    expect(new HostAllowList([]).isEmpty).toBe(true);
    expect(list.isEmpty).toBe(false);
  });

  it.each([
    '',
    '*',
    '*.',
    'http://example.com',
    'example.com:8080',
    'example.com/path',
    'user@example.com',
    'ex*ample.com',
    '*.127.0.0.1',
  ])('rejects the entry %j', (entry) => {
    expect(() => new HostAllowList([entry])).toThrow(TypeError);
  });
});

describe('resolveHttpGetPolicy', () => {
  it('defaults to refusing everything, 1 MiB, 10 s, 3 redirects', () => {
    expect(resolveHttpGetPolicy()).toEqual({
      allowedHosts: [],
      allowPrivateAddresses: false,
      maxResponseBytes: 1_048_576,
      timeoutMs: 10_000,
      maxRedirects: 3,
    });
    expect(DEFAULT_HTTP_GET_POLICY.allowPrivateAddresses).toBe(false);
  });

  it('keeps given values', () => {
    expect(
      resolveHttpGetPolicy({ allowedHosts: ['a.test'], maxRedirects: 0, timeoutMs: 50 }),
    ).toMatchObject({ allowedHosts: ['a.test'], maxRedirects: 0, timeoutMs: 50 });
  });

  it.each([
    { maxResponseBytes: 0 },
    { maxResponseBytes: 1.5 },
    { timeoutMs: 0 },
    { timeoutMs: 120_000 },
    { maxRedirects: -1 },
    { allowedHosts: ['https://a.test/'] },
    { allowedHosts: 'a.test' as unknown as string[] },
  ])('rejects %j', (options) => {
    expect(() => resolveHttpGetPolicy(options)).toThrow(TypeError);
  });
});
