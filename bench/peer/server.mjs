// The reference OpenID provider for `bench/compare.py`: panva's oidc-provider, configured to do
// what ours does in each measured phase. Started by the benchmark (see bench/peer_provider.py):
//
//   NODE_ENV=production PEER_PORT=... PEER_CLIENT_ID=... PEER_CLIENT_SECRET=... \
//   PEER_REDIRECT_URI=... [PEER_DATABASE_URL=postgresql://... PEER_WORKERS=N] node server.mjs
//
// Two stores:
// * without PEER_DATABASE_URL, its in-memory adapter, in one process: the store is in this
//   process's memory, so a second process would not see the first one's tokens; nothing is
//   durable.
// * with PEER_DATABASE_URL, our PostgreSQL adapter (pg_adapter.mjs), every token committed
//   before it is answered with, in PEER_WORKERS processes (node's `cluster`; default: one per
//   core) sharing the store. The primary creates the table and the keys, then forks the
//   workers with the same keys, and serves nothing itself.
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';

import Provider from 'oidc-provider';
// The default in-memory adapter, with a store whose size bound is lifted: the default store is
// an LRU of about 1,000 entries, and every refresh or client_credentials grant writes new ones,
// so the refresh phase's warm-up evicted the unused chains it was to measure next. Both are
// internal modules of the exact version package.json pins.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

import { PostgresAdapter, connect, createSchema } from './pg_adapter.mjs';

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

const databaseUrl = process.env.PEER_DATABASE_URL;

// One RS256 key, 2048 bits like ours, and the cookie key: generated at start, or by the
// primary, which hands them to its workers so that every process signs and checks alike.
function newKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    signing: {
      ...privateKey.export({ format: 'jwk' }),
      kid: `bench-${randomBytes(4).toString('hex')}`,
      alg: 'RS256',
      use: 'sig',
    },
    cookie: randomBytes(32).toString('base64url'),
  };
}

if (databaseUrl && cluster.isPrimary) {
  await primary();
} else {
  serve(process.env.PEER_KEYS ? JSON.parse(process.env.PEER_KEYS) : newKeys());
}

async function primary() {
  const workers = Number(process.env.PEER_WORKERS) || availableParallelism();
  const pool = connect(databaseUrl, 1);
  await createSchema(pool);
  await pool.end();
  const keys = JSON.stringify(newKeys());
  let stopping = false;
  for (let i = 0; i < workers; i += 1) cluster.fork({ PEER_KEYS: keys });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`bench peer: worker ${worker.process.pid} exited (${signal ?? code})`);
      process.exit(1);
    }
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
  });
  let listening = 0;
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) {
      console.log(`bench peer: ${workers} workers listening on ${issuer}, store PostgreSQL`);
    }
  });
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    });
  }
}

function serve(keys) {
  const configuration = {
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
    jwks: { keys: [keys.signing] },
    cookies: { keys: [keys.cookie] },
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

  let pool;
  if (databaseUrl) {
    pool = connect(databaseUrl);
    configuration.adapter = (model) => new PostgresAdapter(model, pool);
  } else {
    const store = new LRU({ maxSize: Number.MAX_SAFE_INTEGER });
    configuration.adapter = (model) => new MemoryAdapter(model, store);
  }

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, error) => {
    console.error(`bench peer: server_error on ${ctx.method} ${ctx.path}:`, error);
  });

  const server = provider.listen(port, HOST, () => {
    if (!cluster.isWorker) console.log(`bench peer: oidc-provider listening on ${issuer}`);
  });

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      server.close(async () => {
        await pool?.end();
        process.exit(0);
      });
      server.closeAllConnections();
    });
  }
}
