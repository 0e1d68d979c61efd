import { InvalidIpAllowListError } from './invalid-ip-allow-list.error';
import { IpAllowList, parseCidrList } from './ip-allow-list';

describe('IpAllowList', () => {
  it('allows everything when empty', () => {
    const list = new IpAllowList([]);
    expect(list.allowsAll).toBe(true);
    expect(list.allows('203.0.113.7')).toBe(true);
    expect(list.allows('2001:db8::1')).toBe(true);
    expect(list.allows(undefined)).toBe(true);
    expect(new IpAllowList(['', '  ']).allowsAll).toBe(true);
  });

  it('matches IPv4 addresses and subnets', () => {
    const list = new IpAllowList(['10.0.0.0/8', '192.168.1.10', '172.16.5.4/32']);
    expect(list.allows('10.255.1.2')).toBe(true);
    expect(list.allows('11.0.0.1')).toBe(false);
    expect(list.allows('192.168.1.10')).toBe(true);
    expect(list.allows('192.168.1.11')).toBe(false);
    expect(list.allows('172.16.5.4')).toBe(true);
    expect(list.allows('172.16.5.5')).toBe(false);
  });

  it('matches IPv6 addresses and subnets', () => {
    const list = new IpAllowList(['2001:db8::/32', '::1', 'fd00::1/128']);
    expect(list.allows('2001:db8:ffff::1')).toBe(true);
    expect(list.allows('2001:db9::1')).toBe(false);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('0:0:0:0:0:0:0:1')).toBe(true);
    expect(list.allows('fd00::1')).toBe(true);
    expect(list.allows('fd00::2')).toBe(false);
    expect(list.allows('10.0.0.1')).toBe(false);
  });

  it('treats IPv4-mapped IPv6 addresses as IPv4', () => {
    const list = new IpAllowList(['10.0.0.0/8']);
    expect(list.allows('::ffff:10.0.0.1')).toBe(true);
    expect(list.allows('::FFFF:10.1.2.3')).toBe(true);
    expect(list.allows('::ffff:a00:1')).toBe(true);
    expect(list.allows('::ffff:11.0.0.1')).toBe(false);
  });

  it('accepts IPv4-mapped entries as their IPv4 address or subnet', () => {
    expect(new IpAllowList(['::ffff:10.0.0.1']).allows('10.0.0.1')).toBe(true);
    const subnet = new IpAllowList(['::ffff:10.0.0.0/104']);
    expect(subnet.allows('10.9.9.9')).toBe(true);
    expect(subnet.allows('11.0.0.1')).toBe(false);
  });

  it('allows every address of a family with /0', () => {
    const v4 = new IpAllowList(['0.0.0.0/0']);
    expect(v4.allows('1.2.3.4')).toBe(true);
    expect(v4.allows('255.255.255.255')).toBe(true);
    expect(v4.allows('2001:db8::1')).toBe(false);
    expect(new IpAllowList(['::/0']).allows('2001:db8::1')).toBe(true);
  });

  it('refuses missing or malformed client addresses when restricted', () => {
    const list = new IpAllowList(['0.0.0.0/0']);
    expect(list.allowsAll).toBe(false);
    expect(list.allows(undefined)).toBe(false);
    expect(list.allows(null)).toBe(false);
    expect(list.allows('')).toBe(false);
    expect(list.allows('localhost')).toBe(false);
    expect(list.allows('1.2.3.4.5')).toBe(false);
  });

  it('ignores the zone of a link-local client address', () => {
    expect(new IpAllowList(['fe80::/10']).allows('fe80::1%eth0')).toBe(true);
  });

  it('keeps the entries it was given, trimmed', () => {
    expect(new IpAllowList([' 10.0.0.0/8 ', '::1']).entries).toEqual(['10.0.0.0/8', '::1']);
  });

  it.each([
    'not-an-ip',
    '10.0.0',
    '10.0.0.256',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0.0/abc',
    '10.0.0.0/ 8',
    '2001:db8::/129',
    '2001:db8::g',
    'fe80::1%eth0',
    '::ffff:10.0.0.0/64',
    '/8',
  ])('refuses the entry %p, naming it', (entry) => {
    let error: unknown;
    try {
      new IpAllowList(['10.0.0.1', entry]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidIpAllowListError);
    expect((error as InvalidIpAllowListError).entry).toBe(entry.trim());
    expect((error as Error).message).toContain(`"${entry.trim()}"`);
    expect((error as Error).name).toBe('InvalidIpAllowListError');
  });
});

describe('parseCidrList', () => {
  it('splits on commas and whitespace', () => {
    expect(parseCidrList('10.0.0.0/8, ::1')).toEqual(['10.0.0.0/8', '::1']);
    expect(parseCidrList(' 10.0.0.1 ,, 2001:db8::/32\n192.168.0.0/16 ')).toEqual([
      '10.0.0.1',
      '2001:db8::/32',
      '192.168.0.0/16',
    ]);
  });

  it('gives an empty list for nothing', () => {
    expect(parseCidrList('')).toEqual([]);
    expect(parseCidrList('  ,  ')).toEqual([]);
    expect(parseCidrList(undefined)).toEqual([]);
  });

  it('feeds IpAllowList', () => {
    expect(new IpAllowList(parseCidrList('10.0.0.0/8, ::1')).allows('::1')).toBe(true);
  });
});
