import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { OPERATOR_PASSWORD_MIN_LENGTH } from '@mic/contracts';
import { problems } from '@mic/platform';

/** OWASP's first argon2id configuration: 19 MiB, 2 passes, 1 lane. */
const ARGON2ID = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

let decoy: Promise<string> | undefined;

/**
 * Checks `password` against `stored`; with no stored hash (unknown email) it checks against a
 * decoy, so an unknown email costs the same time as a wrong password.
 */
export async function checkPassword(stored: string | undefined, password: string): Promise<boolean> {
  if (stored) return verify(stored, password);
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  await verify(await decoy, password);
  return false;
}

/** A random password for an account created without one (shown once): 144 bits, 24 characters. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** The rules the schema cannot state: long enough, and not the account's own email. */
export function assertAcceptablePassword(password: string, email: string, field = 'body.password'): void {
  if (password.length < OPERATOR_PASSWORD_MIN_LENGTH) {
    throw problems.validation([{ field, message: `must be at least ${OPERATOR_PASSWORD_MIN_LENGTH} characters` }]);
  }
  if (password.trim().toLowerCase() === email.trim().toLowerCase()) {
    throw problems.validation([{ field, message: 'must not be the email address' }]);
  }
}
