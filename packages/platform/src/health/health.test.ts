import { describe, expect, it } from 'vitest';
import { evaluate, worst } from './index.ts';

const options = { serviceId: 's', version: '1', releaseId: '1.0.0', description: 'd', timeoutMs: 100 };

describe('evaluate', () => {
  it('reports the worst status and says which check is not passing', async () => {
    const report = await evaluate(
      [
        { name: 'a:x', run: async () => ({ status: 'pass' }) },
        { name: 'b:y', run: async () => ({ status: 'warn', output: 'slow' }) },
      ],
      options,
    );
    expect(report.status).toBe('warn');
    expect(report.output).toBe('b:y: slow');
    expect(report.checks['a:x']?.[0]?.status).toBe('pass');
  });

  it('turns a hanging check into fail within its deadline instead of hanging', async () => {
    const started = Date.now();
    const report = await evaluate([{ name: 'slow:x', run: () => new Promise(() => {}) }], options);
    expect(report.status).toBe('fail');
    expect(report.output).toContain('no answer within 100 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('turns a throwing check into fail with its message', async () => {
    const report = await evaluate(
      [{ name: 'db:x', run: () => Promise.reject(new Error('connection refused')) }],
      options,
    );
    expect(report).toMatchObject({ status: 'fail', output: 'db:x: connection refused' });
  });
});

describe('worst', () => {
  it('orders fail over warn over pass', () => {
    expect(worst([])).toBe('pass');
    expect(worst(['pass', 'warn'])).toBe('warn');
    expect(worst(['warn', 'fail', 'pass'])).toBe('fail');
  });
});
