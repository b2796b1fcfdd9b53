import type { Shape, SimClusterView } from '../shape.js';
import { etcdPeerShape, etcdShape } from './etcd.js';
import { genericShape } from './generic.js';
import { patroniShape, type PatroniShapeOptions } from './patroni.js';
import { progetShape, type ProGetShapeOptions } from './proget.js';
import { secureTransportShape, type SecureTransportShapeOptions } from './securetransport.js';
import { tcpShape } from './tcp.js';

/** Product settings of a simulated cluster, by shape. */
export interface ShapeOptions {
  readonly proget?: ProGetShapeOptions;
  readonly securetransport?: SecureTransportShapeOptions;
  readonly patroni?: PatroniShapeOptions;
}

/** Every shape a simulated component can answer as, by name: one instance per cluster. */
export const SHAPES = {
  generic: (c: SimClusterView) => genericShape(c),
  tcp: () => tcpShape(),
  proget: (c: SimClusterView, o: ShapeOptions) => progetShape(c, o.proget),
  securetransport: (c: SimClusterView, o: ShapeOptions) => secureTransportShape(c, o.securetransport),
  etcd: (c: SimClusterView) => etcdShape(c),
  'etcd-peer': (c: SimClusterView) => etcdPeerShape(c),
  patroni: (c: SimClusterView, o: ShapeOptions) => patroniShape(c, o.patroni),
} as const satisfies Record<string, (cluster: SimClusterView, options: ShapeOptions) => Shape>;

export type ShapeName = keyof typeof SHAPES;
