import { startNexusSim } from './sim.ts';

/**
 * The simulator as a process: `NEXUS_SIM_SECRETS=whsec_…[,whsec_…] NEXUS_SIM_PORT=4400 node
 * tools/nexus-sim/src/main.ts` (also NEXUS_SIM_HOST, default 127.0.0.1, NEXUS_SIM_TOLERANCE_SECONDS,
 * default 300, and NEXUS_SIM_CONTROL_PUBLIC_KEY, control's public key(s), comma-separated, which
 * enables `/control`). Writes one JSON line when listening (with its URL) and one per delivery or
 * command; stops on SIGTERM or SIGINT. A bad setting is one line on stderr, exit code 2.
 */
function fail(message: string): never {
  process.stderr.write(`nexus-sim: ${message}\n`);
  process.exit(2);
}

const line = (entry: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

const secrets = (process.env.NEXUS_SIM_SECRETS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
if (secrets.length === 0) fail('NEXUS_SIM_SECRETS is required: the delivery signing secrets, comma-separated');

const portText = process.env.NEXUS_SIM_PORT?.trim() || '0';
const port = Number(portText);
if (!/^\d+$/.test(portText) || port > 65_535) fail(`NEXUS_SIM_PORT must be a port number (0-65535), not "${portText}"`);

const host = process.env.NEXUS_SIM_HOST?.trim() || '127.0.0.1';

// Tests that run the engine on a simulated clock sign with timestamps far from real time.
const toleranceText = process.env.NEXUS_SIM_TOLERANCE_SECONDS?.trim();
if (toleranceText !== undefined && toleranceText !== '' && !/^\d+$/.test(toleranceText)) {
  fail(`NEXUS_SIM_TOLERANCE_SECONDS must be a whole number of seconds, not "${toleranceText}"`);
}
const toleranceSeconds = toleranceText ? Number(toleranceText) : undefined;

// PEM has no commas, so one variable holds several keys in either form (a PEM's newlines as \n).
const controlPublicKeys = (process.env.NEXUS_SIM_CONTROL_PUBLIC_KEY ?? '')
  .split(',')
  .map((k) => k.replaceAll('\\n', '\n').trim())
  .filter(Boolean);

try {
  const sim = await startNexusSim({
    port,
    host,
    secrets,
    log: line,
    ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }),
    ...(controlPublicKeys.length ? { controlPublicKey: controlPublicKeys } : {}),
  });
  line({ msg: 'nexus-sim listening', url: sim.url, port: sim.port });
  const stop = () => {
    void sim.stop().then(() => {
      line({ msg: 'nexus-sim stopped' });
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
