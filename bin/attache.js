#!/usr/bin/env node
// The `attache` command. Attaché runs from its TypeScript sources: this shim registers the tsx
// loader, then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../services/cli/main.ts');
