#!/usr/bin/env node
// The entry point. V8 heap settings first (heap.ts), then the command line (cli.ts), loaded
// only once they hold: with a static import, Node would read, parse and link every module
// of the exporter before heap.ts ran, and the young generation would grow to 8 MB and more
// on that work alone (measured: 1 MB at the first line, 8 MB 80 ms later).
import './heap.js';

await import('./cli.js');
