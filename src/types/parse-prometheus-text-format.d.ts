// The package ships no types: the shapes its README documents (prom2json's output).
declare module 'parse-prometheus-text-format' {
  /** One series, or for a histogram or summary the family's buckets or quantiles with `sum` and `count`; values as written. */
  interface ParsedMetric {
    readonly labels?: Record<string, string>;
    readonly value?: string;
    readonly timestamp_ms?: string;
    readonly sum?: string;
    readonly count?: string;
    readonly buckets?: Record<string, string>;
    readonly quantiles?: Record<string, string>;
  }
  interface ParsedFamily {
    readonly name: string;
    readonly help: string;
    /** COUNTER, GAUGE, HISTOGRAM, SUMMARY or UNTYPED. */
    readonly type: string;
    readonly metrics: readonly ParsedMetric[];
  }
  /** Throws an InvalidLineError on a line it cannot read. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
