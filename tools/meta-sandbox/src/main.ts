import { runCli } from './cli.ts';

/** `node tools/meta-sandbox/src/main.ts send --url … --secret … --rate 200 --count 1000 --kind whatsapp-text` */
process.exitCode = await runCli(
  process.argv.slice(2),
  { stdout: (line) => console.log(line), stderr: (line) => console.error(line) },
  process.env,
);
