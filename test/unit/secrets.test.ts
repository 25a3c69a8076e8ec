import { Writable } from 'node:stream';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { SECRET_FIELD_NAMES, isSecretPath, redactText } from '../../core/redact/index.ts';
import { formatIssues, resolveConfig } from '../../core/config/index.ts';
import { printable } from '../../core/cli/output.ts';
import { createLogger } from '../../core/log/index.ts';

const VALUE = 'hunter2-do-not-show';

describe('one list of secret field names, used by every redaction', () => {
  it('the logger replaces every secret field, at the top and nested', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    for (const name of SECRET_FIELD_NAMES) logger.info({ [name]: VALUE, options: { nested: { [name]: VALUE } } }, `field ${name}`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(SECRET_FIELD_NAMES.length);
    for (const line of lines) {
      expect(line).not.toContain(VALUE);
      expect(line).toContain('[redacted]');
    }
  });

  it('messages about bad options never show a secret field value', () => {
    for (const name of [...SECRET_FIELD_NAMES, 'sentinelPassword']) {
      const result = z.object({ [name]: z.number() }).safeParse({ [name]: VALUE }, { reportInput: true });
      expect(result.success).toBe(false);
      const message = formatIssues(result.error!.issues, { root: 'sink' });
      expect(message).toContain(`sink.${name}`);
      expect(message).not.toContain(VALUE);
    }
    const config = { tasks: [{ name: 't', source: { host: 'db', user: 'u', serverId: 1, password: 31337_4242 }, plugins: [] }] };
    expect(() => resolveConfig(config)).toThrow('tasks[0].source.password: expected string, got a value that is not shown (secret field)');
    expect(isSecretPath(['headers', 'x-custom'])).toBe(true);
    expect(isSecretPath(['tls', 'key'])).toBe(true);
    expect(isSecretPath(['key'])).toBe(false);
  });

  it('the printed config shows no secret field value', () => {
    for (const name of SECRET_FIELD_NAMES) {
      const text = JSON.stringify(printable({ source: { host: 'db', [name]: VALUE } }));
      expect(text).not.toContain(VALUE);
      expect(text).toContain('"host":"db"');
    }
  });

  it('status text hides name=value pairs of every secret field name', () => {
    for (const name of SECRET_FIELD_NAMES) {
      expect(redactText(`failed: ${name}=${VALUE}`)).toBe(`failed: ${name}=[redacted]`);
    }
  });
});
