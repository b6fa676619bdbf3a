import { describe, expect, it } from 'vitest';
import { assertPublicUrl, parseNetworks, type UrlPolicy } from './index.ts';

const strict: UrlPolicy = { allowPrivate: false, allowedNetworks: [] };

async function refusal(url: string, policy = strict): Promise<string | null> {
  try {
    await assertPublicUrl('body.webhookUrl', url, policy);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('instance URLs and SSRF', () => {
  it.each([
    'http://127.0.0.1:8080/hooks',
    'http://localhost/hooks',
    'http://10.1.2.3/',
    'http://172.16.0.9/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/',
    'http://[fd00::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://0.0.0.0/',
  ])('refuses %s, which points into the hub own network', async (url) => {
    expect(await refusal(url)).toMatch(/private or reserved address/);
  });

  it('accepts a public address', async () => {
    expect(await refusal('https://93.184.216.34/hooks')).toBeNull();
  });

  it('refuses what is not an http URL, or carries credentials', async () => {
    expect(await refusal('ftp://93.184.216.34/')).toMatch(/http or https/);
    expect(await refusal('https://user:pw@93.184.216.34/')).toMatch(/credentials/);
    expect(await refusal('not a url')).toMatch(/absolute URL/);
  });

  it('accepts a private address when the policy allows private ranges, or that network', async () => {
    expect(await refusal('http://127.0.0.1/', { allowPrivate: true, allowedNetworks: [] })).toBeNull();
    expect(await refusal('http://10.20.1.5/', { allowPrivate: false, allowedNetworks: ['10.20.0.0/16'] })).toBeNull();
    expect(
      await refusal('http://10.21.1.5/', { allowPrivate: false, allowedNetworks: ['10.20.0.0/16'] }),
    ).not.toBeNull();
  });

  it('parses a list of networks and names a wrong one', () => {
    expect(parseNetworks(' 10.0.0.0/8, fd00::/8 ')).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(() => parseNetworks('10.0.0.0/8,banana')).toThrow('banana is not a network in CIDR notation');
  });
});
