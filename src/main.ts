#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=20 --no-allocation-site-pretenuring
// The entry point of `appcluster-exporter` and `appcluster-exporter agent` (the package's
// bin). The V8 flags above are the runtime's settings the benchmarks showed worth their
// place (docs/operations.md says what each does, bench/RESULTS.md what it bought); the
// Dockerfile, the systemd units and the Kubernetes manifests start node with the same ones
// (test/deploy/launch-flags.test.ts holds them equal). They are the operator's to change there.
import './cli.js';
