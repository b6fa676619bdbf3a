import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import {
  ConfigError,
  DataDirLockedError,
  InternalClient,
  PeerError,
  Problem,
  keysPath,
  peerTokenReader,
} from '@mic/platform';
import { ROLES, controlCli, openControlAdmin, type ControlAdmin, type Role } from '@mic/control/cli';

/** A failure already worded for the person at the terminal. */
export class CommandError extends Error {}

/**
 * Runs `offline` on control's database when no control holds it, or `online` through the running
 * control's `/internal` routes (PGlite's folder belongs to one process) with the embedded token file.
 * On Postgres the database is opened directly: any number of processes may.
 */
export async function withControl<T>(
  offline: (admin: ControlAdmin) => Promise<T>,
  online: (control: InternalClient) => Promise<T>,
): Promise<T> {
  let config;
  try {
    config = controlCli.loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new CommandError(`configuration error: ${error.problems.join('; ')}`);
    throw error;
  }
  let admin: ControlAdmin;
  try {
    admin = await openControlAdmin(config, controlCli.databaseOptions(config));
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) {
      throw new CommandError(`cannot open control's database: ${(error as Error).message}`);
    }
    const file = keysPath(config.dataDir, 'service-tokens.json');
    if (!file || !existsSync(file)) {
      throw new CommandError(`control (pid ${error.holderPid}) runs, but there is no service token file at ${file}`);
    }
    const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host;
    const control = new InternalClient({
      baseUrl: `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`,
      // Control accepts the token the engine presents to it.
      token: peerTokenReader(file, 'engine'),
      timeoutMs: 60_000,
      peer: 'control',
    });
    try {
      return await online(control);
    } catch (failure) {
      if (!(failure instanceof PeerError)) throw failure;
      if (failure.isUnreachable) {
        throw new CommandError(
          `control (pid ${error.holderPid}) holds its database but does not answer: ${failure.message}`,
        );
      }
      throw new CommandError(failure.problem?.detail ?? failure.problem?.title ?? failure.message);
    }
  }
  try {
    return await offline(admin);
  } catch (failure) {
    if (failure instanceof Problem) throw new CommandError(failure.detail ?? failure.title);
    throw failure;
  } finally {
    await admin.close();
  }
}

export async function run(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    process.stderr.write(`mic ${name}: ${error.message}\n`);
    return 1;
  }
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(question);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    let value = '';
    const done = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (data: string) => {
      for (const char of data) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new CommandError('cancelled'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    input.on('data', onData);
  });
}

async function readPassword(fromStdin: boolean, stdin: NodeJS.ReadableStream): Promise<string> {
  if (fromStdin) return readAll(stdin);
  if (!process.stdin.isTTY) {
    throw new CommandError('no password: pipe it with --password-stdin, or run the command in a terminal');
  }
  const password = await promptHidden('Password: ');
  if ((await promptHidden('Repeat it: ')) !== password) throw new CommandError('the passwords differ');
  return password;
}

/** `mic admin create --email E --name N [--role owner] [--password-stdin]` */
export function adminCreate(args: string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<number> {
  return run('admin create', async () => {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          email: { type: 'string' },
          name: { type: 'string' },
          role: { type: 'string', default: 'owner' },
          'password-stdin': { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      throw new CommandError((error as Error).message);
    }
    const { email, name, role } = values;
    if (!email) throw new CommandError('--email is required');
    if (!name) throw new CommandError('--name is required');
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new CommandError(`--role must be one of ${ROLES.join(', ')}`);
    }
    const password = await readPassword(values['password-stdin'], stdin);
    if (!password) throw new CommandError('the password is empty');
    const input = { email, name, role: role as Role, password };
    const operator = await withControl(
      async (admin) => {
        const actor = { type: 'cli' as const, id: null, label: `mic admin create (${userInfo().username})` };
        return (await admin.operators.create(input, { actor })).operator;
      },
      async (control) =>
        (
          await control.request<{ operator: { id: string; email: string; role: string } }>(
            'POST',
            '/internal/v1/operators',
            input,
          )
        ).operator,
    );
    process.stdout.write(`operator ${operator.email} (${operator.role}) created: ${operator.id}\n`);
    return 0;
  });
}

/** `mic audit verify`: exit 0 when the chain checks out, 1 with the first broken row otherwise. */
export function auditVerify(): Promise<number> {
  return run('audit verify', async () => {
    const result = await withControl(
      (admin) => admin.audit.verify(),
      (control) =>
        control.request<{ ok: true; rows: number } | { ok: false; brokenAt: number; reason: string }>(
          'GET',
          '/internal/v1/audit/verify',
        ),
    );
    if (result.ok) {
      process.stdout.write(`audit chain OK: ${result.rows} rows\n`);
      return 0;
    }
    process.stdout.write(`audit chain BROKEN at row ${result.brokenAt}: ${result.reason}\n`);
    return 1;
  });
}
