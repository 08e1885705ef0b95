/** The product's name and version (package.json's; test/unit/core/telemetry.test.ts checks): the telemetry scope and the user agent's prefix. */
export const product = { name: 'graph-user-sync', version: '0.1.0' } as const;

/** What the sync's HTTP clients put before the SDKs' own user agent. */
export const userAgentPrefix: string = product.name;
