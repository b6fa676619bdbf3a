import { describe, expect, it } from 'vitest';
import { ConfigError, fields, loadConfig, parseDuration } from './index.ts';

const spec = {
  port: fields.port('X_PORT', 'port', 3000),
  url: fields.databaseUrl('X_DATABASE_URL', 'database'),
  interval: fields.duration('X_INTERVAL', 'interval', 1000),
  mode: fields.choice('X_MODE', 'mode', ['a', 'b'], 'a'),
  name: fields.string('X_NAME', 'a name with no default'),
};

describe('loadConfig', () => {
  it('applies defaults and parses values', () => {
    const config = loadConfig(spec, { X_NAME: 'n', X_INTERVAL: '5s', X_DATABASE_URL: 'postgres://u@h:5432/d' });
    expect(config).toEqual({ port: 3000, url: 'postgres://u@h:5432/d', interval: 5000, mode: 'a', name: 'n' });
  });

  it('reports every wrong or missing value, one line each, naming the variable', () => {
    let error: unknown;
    try {
      loadConfig(spec, { X_PORT: 'abc', X_DATABASE_URL: 'mysql://h/d', X_MODE: 'c', X_INTERVAL: 'soon' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems[0]).toBe('X_PORT="abc" is not valid: expected a port number from 0 to 65535');
    expect(problems[1]).toContain('X_DATABASE_URL="mysql://h/d" is not valid: expected a postgres:// URL');
    expect(problems.join('\n')).toContain('X_MODE="c" is not valid: expected one of a, b');
    expect(problems.join('\n')).toContain('X_NAME is required');
    expect(problems.every((p) => !p.includes('\n'))).toBe(true);
  });

  it('treats blank values as unset', () => {
    expect(loadConfig(spec, { X_NAME: 'n', X_PORT: '  ' }).port).toBe(3000);
  });
});

describe('parseDuration', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ])('%s is %d ms', (raw, ms) => expect(parseDuration(raw)).toBe(ms));

  it('refuses nonsense', () => expect(() => parseDuration('5 parsecs')).toThrow(/duration/));
});
