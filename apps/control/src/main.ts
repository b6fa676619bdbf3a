#!/usr/bin/env node
import { runPlaneCli } from '@mic/platform';
import { controlCli } from './cli.ts';

await runPlaneCli(controlCli);
