import { runCli } from './cli.ts';

/**
 * `node tools/meta-sandbox/src/main.ts send --url … --secret … --rate 200 --count 1000 --kind whatsapp-text`
 * `node tools/meta-sandbox/src/main.ts graph --port 3200 --waba 1029…=EAA…` (until Ctrl-C)
 */
const stop = new AbortController();
if (process.argv[2] === 'graph') {
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
}
process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: (line) => console.log(line), stderr: (line) => console.error(line) },
  process.env,
  stop.signal,
);
