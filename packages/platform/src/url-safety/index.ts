import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { problems } from '../http/index.ts';

export interface UrlPolicy {
  /** Accept addresses in private, loopback and link-local ranges (a lab, or instances on a private network). */
  allowPrivate: boolean;
  /** Networks accepted even though private, e.g. `10.20.0.0/16` for the instances' own network. */
  allowedNetworks: readonly string[];
}

function parseList(raw: string, accept: (entry: string) => boolean, what: string): string[] {
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const wrong = entries.find((entry) => !accept(entry));
  if (wrong !== undefined) throw new Error(`${wrong} is not ${what}`);
  return entries;
}

/** Parses `10.0.0.0/8,fd00::/8` into CIDRs, naming the first one that is not. */
export function parseNetworks(raw: string): string[] {
  return parseList(raw, (entry) => ipaddr.isValidCIDR(entry), 'a network in CIDR notation');
}

/** Parses `10.0.0.1,10.1.0.0/16`: addresses or networks (the proxies a server trusts). */
export function parseProxyList(raw: string): string[] {
  return parseList(
    raw,
    (entry) => ipaddr.isValid(entry) || ipaddr.isValidCIDR(entry),
    'an address or a network in CIDR notation',
  );
}

function isPublic(address: string, policy: UrlPolicy): boolean {
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.range() === 'unicast') return true;
  if (policy.allowPrivate) return true;
  return policy.allowedNetworks.some((cidr) => {
    const [network, bits] = ipaddr.parseCIDR(cidr);
    return network.kind() === ip.kind() && ip.match(network, bits);
  });
}

/**
 * Refuses a URL that would make the hub call into its own network (SSRF): every address its host
 * resolves to must be public, unless the policy allows it. Answers a 422 problem naming the field.
 */
export async function assertPublicUrl(field: string, url: string, policy: UrlPolicy): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw problems.validation([{ field, message: 'must be an absolute URL' }]);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw problems.validation([{ field, message: 'must be an http or https URL' }]);
  }
  if (parsed.username || parsed.password) {
    throw problems.validation([{ field, message: 'must not carry credentials' }]);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    throw problems.validation([{ field, message: `its host ${host} does not resolve` }]);
  }
  const refused = addresses.find((a) => !isPublic(a, policy));
  if (refused) {
    throw problems.validation([
      {
        field,
        message: `its host resolves to ${refused}, a private or reserved address; allow it with INSTANCE_URL_ALLOW_PRIVATE or INSTANCE_URL_ALLOWED_NETWORKS`,
      },
    ]);
  }
}
