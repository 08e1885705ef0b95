import assert from 'node:assert/strict';
import type { LocalStack } from '../../local/stack';
import type { SeedUser } from '../../local/stand-ins/seed';

/**
 * A bare client of the Graph stand-in's /users/delta for the tests that check the stand-in itself
 * (graph-delta, churn): a client-credentials token from the Entra stand-in, and a walk of
 * nextLinks to the deltaLink, over real HTTPS with plain fetch.
 */

export interface DeltaEntry {
  id: string;
  '@removed'?: { reason: string };
  [property: string]: unknown;
}

export interface DeltaPage {
  value: DeltaEntry[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/** An app-only Graph token for the stack's app registration. */
export async function appToken(stack: LocalStack): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: stack.clientId,
    client_secret: stack.clientSecret,
    scope: `${stack.graph.url}/.default`,
  });
  const response = await fetch(`${stack.entra.url}/${stack.tenantId}/oauth2/v2.0/token`, { method: 'POST', body: form });
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}

export function getDelta(link: string, token: string, prefer?: string): Promise<Response> {
  return fetch(link, { headers: { authorization: `Bearer ${token}`, ...(prefer === undefined ? {} : { prefer }) } });
}

/** Follows nextLinks to the deltaLink; every page must be 200. */
export async function walkDelta(link: string, token: string, prefer?: string): Promise<{ pages: DeltaEntry[][]; deltaLink: string }> {
  const pages: DeltaEntry[][] = [];
  for (let next: string | undefined = link; ;) {
    const response = await getDelta(next, token, prefer);
    assert.equal(response.status, 200, await response.clone().text());
    const page = (await response.json()) as DeltaPage;
    pages.push(page.value);
    if (page['@odata.deltaLink'] !== undefined) {
      assert.equal(page['@odata.nextLink'], undefined);
      return { pages, deltaLink: page['@odata.deltaLink'] };
    }
    next = page['@odata.nextLink'];
    assert.ok(next !== undefined, 'a page without nextLink or deltaLink');
  }
}

/** A user as Graph's delta gives it by default: every selected property that is set (id is selected). */
export function setProperties(user: SeedUser, select: string): Record<string, unknown> {
  const entry: Record<string, unknown> = {};
  for (const f of select.split(',')) {
    const value = (user as unknown as Record<string, unknown>)[f];
    if (value !== null && value !== undefined) entry[f] = value;
  }
  return entry;
}
