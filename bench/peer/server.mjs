// The reference OpenID provider for `bench/compare.py`: panva's oidc-provider, configured to do
// what ours does in each measured phase. Started by the benchmark (see bench/peer_provider.py):
//
//   NODE_ENV=production PEER_PORT=... PEER_CLIENT_ID=... PEER_CLIENT_SECRET=... \
//   PEER_REDIRECT_URI=... node server.mjs
//
// One process: its store is in this process's memory, so a second process (node's `cluster`)
// would not see the first one's tokens.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
// The default in-memory adapter, with a store whose size bound is lifted: the default store is
// an LRU of about 1,000 entries, and every refresh or client_credentials grant writes new ones,
// so the refresh phase's warm-up evicted the unused chains it was to measure next. Both are
// internal modules of the exact version package.json pins.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`bench peer: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const HOST = '127.0.0.1';
const port = Number(required('PEER_PORT'));
const issuer = `http://${HOST}:${port}`;
const clientId = required('PEER_CLIENT_ID');
const clientSecret = required('PEER_CLIENT_SECRET');
const redirectUri = required('PEER_REDIRECT_URI');
// The API a client_credentials token is for (RFC 8707 resource indicator) and its one scope.
const API = 'urn:idp-bench:api';
const API_SCOPE = 'api:read';

// One RS256 key generated at start, 2048 bits like ours.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `bench-${randomBytes(4).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

const store = new LRU({ maxSize: Number.MAX_SAFE_INTEGER });

const configuration = {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      client_name: 'Bench',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  async findAccount(ctx, sub) {
    // devInteractions signs in whatever login name is typed (no password check).
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: sub,
          email_verified: true,
          name: 'Bench User',
          given_name: 'Bench',
          family_name: 'User',
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true }, // its own login and consent pages
    userinfo: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Only a request naming the API with `resource` gets a token for it; everything else
      // (the authorization-code flow) gets tokens for userinfo, as with ours.
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (resourceIndicator !== API) throw new Provider.errors.InvalidTarget();
        return { scope: API_SCOPE, audience: API, accessTokenFormat: 'opaque' };
      },
    },
  },
  // Ours issues a refresh token with every code exchange, without `offline_access`, and it
  // lives on after the sign-in session; so here too.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  expiresWithSession: async () => false,
  rotateRefreshToken: true, // every refresh returns a new refresh token, as ours does
  pkce: { required: () => true }, // the bench always sends S256, as ours requires
  // Lifetimes as ours has them by default (idp/config.py).
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    RefreshToken: 30 * 24 * 3600,
    Interaction: 1800,
    Session: 8 * 3600,
    Grant: 30 * 24 * 3600,
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => {
  console.error(`bench peer: server_error on ${ctx.method} ${ctx.path}:`, error);
});

const server = provider.listen(port, HOST, () => {
  console.log(`bench peer: oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
