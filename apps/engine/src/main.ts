#!/usr/bin/env node
import { runPlaneCli } from '@mic/platform';
import { engineCli } from './cli.ts';

await runPlaneCli(engineCli);
