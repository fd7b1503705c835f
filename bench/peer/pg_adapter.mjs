// A durable store for oidc-provider: one PostgreSQL table, for the durable variant of the
// reference provider in `bench/compare.py` (see server.mjs). Every adapter call is one
// autocommitted statement on a connection with `synchronous_commit=on`, so a token the provider
// has answered with is on disk, as our provider's are.
//
//   import { PostgresAdapter, connect, createSchema } from './pg_adapter.mjs';
//   const pool = connect(url);
//   await createSchema(pool);
//   configuration.adapter = (model) => new PostgresAdapter(model, pool);
//
// The adapter interface is oidc-provider's (its lib/adapters/memory_adapter.js is the model):
// upsert, find, findByUid, findByUserCode, consume, destroy, revokeByGrantId.
import pg from 'pg';

export const TABLE = 'oidc_store';

// `kind` is the model's name (AccessToken, RefreshToken, Session, Grant, ...): ids are unique
// only within a model. The grant id, the session's uid and the device flow's user code are
// columns of their own, each with an index, for the lookups by them.
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS ${TABLE} (
    kind text NOT NULL,
    id text NOT NULL,
    payload jsonb NOT NULL,
    grant_id text,
    user_code text,
    uid text,
    expires_at timestamptz,
    consumed_at timestamptz,
    PRIMARY KEY (kind, id)
  )`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_grant_id ON ${TABLE} (grant_id) WHERE grant_id IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_uid ON ${TABLE} (uid) WHERE uid IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS ${TABLE}_user_code ON ${TABLE} (user_code) WHERE user_code IS NOT NULL`,
];

// Named statements: node-postgres prepares each once per connection, then only binds.
const LIVE = '(expires_at IS NULL OR expires_at > now())';
const COLUMNS = 'payload, extract(epoch from consumed_at)::bigint AS consumed';
const STATEMENTS = {
  upsert: `INSERT INTO ${TABLE} (kind, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
    VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), to_timestamp($8))
    ON CONFLICT (kind, id) DO UPDATE SET payload = excluded.payload,
      grant_id = excluded.grant_id, user_code = excluded.user_code, uid = excluded.uid,
      expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
  find: `SELECT ${COLUMNS} FROM ${TABLE} WHERE kind = $1 AND id = $2 AND ${LIVE}`,
  findByUid: `SELECT ${COLUMNS} FROM ${TABLE} WHERE kind = $1 AND uid = $2 AND ${LIVE}`,
  findByUserCode: `SELECT ${COLUMNS} FROM ${TABLE} WHERE kind = $1 AND user_code = $2 AND ${LIVE}`,
  consume: `UPDATE ${TABLE} SET consumed_at = now() WHERE kind = $1 AND id = $2`,
  destroy: `DELETE FROM ${TABLE} WHERE kind = $1 AND id = $2`,
  revokeByGrantId: `DELETE FROM ${TABLE} WHERE grant_id = $1`,
};

/** A connection pool to `url` whose every connection commits synchronously. */
export function connect(url, max = 10) {
  return new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 0, // keep the connections: no reconnecting between phases
    options: '-c synchronous_commit=on',
    application_name: 'idp-bench-peer',
  });
}

/** Creates the table and its indexes if they are not there (idempotent). */
export async function createSchema(pool) {
  for (const statement of SCHEMA) {
    await pool.query(statement);
  }
}

function row(result) {
  const found = result.rows[0];
  if (!found) return undefined;
  const { payload, consumed } = found;
  // consume() writes only the column: the payload says so only if it was saved consumed.
  return consumed === null ? payload : { ...payload, consumed: Number(consumed) };
}

export class PostgresAdapter {
  constructor(model, pool) {
    this.model = model;
    this.pool = pool;
  }

  query(name, values) {
    return this.pool.query({ name: `oidc_${name}`, text: STATEMENTS[name], values });
  }

  async upsert(id, payload, expiresIn) {
    const consumed = typeof payload.consumed === 'number' ? payload.consumed : null;
    await this.query('upsert', [
      this.model,
      id,
      payload,
      payload.grantId ?? null,
      payload.userCode ?? null,
      payload.uid ?? null,
      typeof expiresIn === 'number' ? expiresIn : null,
      consumed,
    ]);
  }

  async find(id) {
    return row(await this.query('find', [this.model, id]));
  }

  async findByUid(uid) {
    return row(await this.query('findByUid', [this.model, uid]));
  }

  async findByUserCode(userCode) {
    return row(await this.query('findByUserCode', [this.model, userCode]));
  }

  async consume(id) {
    await this.query('consume', [this.model, id]);
  }

  async destroy(id) {
    await this.query('destroy', [this.model, id]);
  }

  // Every model's rows of the grant (access, refresh tokens, codes ...), as the memory
  // adapter drops them all: a replayed refresh token revokes the whole grant.
  async revokeByGrantId(grantId) {
    await this.query('revokeByGrantId', [grantId]);
  }
}
