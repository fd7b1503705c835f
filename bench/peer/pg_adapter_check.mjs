// Checks pg_adapter.mjs against a real, empty PostgreSQL database: every call of the adapter
// interface, one statement per call, expiry, consumption, the lookups by uid, user code and
// grant id, and synchronous commits whatever the database's default. Run by
// tests/test_bench_pg_adapter.py:
//
//   PEER_DATABASE_URL=postgresql://.../empty node pg_adapter_check.mjs
import assert from 'node:assert/strict';

import { PostgresAdapter, TABLE, connect, createSchema } from './pg_adapter.mjs';

const url = process.env.PEER_DATABASE_URL;
if (!url) {
  console.error('PEER_DATABASE_URL is not set');
  process.exit(2);
}

const pool = connect(url, 2);
let statements = 0;
const query = pool.query.bind(pool);
pool.query = (...args) => {
  statements += 1;
  return query(...args);
};

// One adapter call, which must send exactly one statement (so it commits on its own).
async function call(adapter, method, ...args) {
  const before = statements;
  const result = await adapter[method](...args);
  assert.equal(statements - before, 1, `${adapter.model}.${method}: one statement`);
  return result;
}

const checks = [];
function check(name, fn) {
  checks.push([name, fn]);
}

const now = () => Math.floor(Date.now() / 1000);

check('the schema can be created twice', async () => {
  await createSchema(pool);
  await createSchema(pool);
  const { rows } = await query(
    `SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`,
    [TABLE],
  );
  assert.deepEqual(
    rows.map((r) => r.indexname),
    [`${TABLE}_grant_id`, `${TABLE}_pkey`, `${TABLE}_uid`, `${TABLE}_user_code`],
  );
});

check('every connection commits synchronously, whatever the database says', async () => {
  const { rows } = await query('SHOW synchronous_commit');
  assert.equal(rows[0].synchronous_commit, 'on');
});

check('upsert then find gives the payload back, for that model only', async () => {
  const tokens = new PostgresAdapter('AccessToken', pool);
  const payload = { jti: 'a1', kind: 'AccessToken', accountId: 'x', scope: 'openid' };
  await call(tokens, 'upsert', 'a1', payload, 600);
  assert.deepEqual(await call(tokens, 'find', 'a1'), payload);
  assert.equal(await call(new PostgresAdapter('RefreshToken', pool), 'find', 'a1'), undefined);
  assert.equal(await call(tokens, 'find', 'nothing'), undefined);
});

check('upsert replaces the payload and its indexes', async () => {
  const tokens = new PostgresAdapter('AccessToken', pool);
  await call(tokens, 'upsert', 'a2', { jti: 'a2', grantId: 'g-old' }, 600);
  await call(tokens, 'upsert', 'a2', { jti: 'a2', grantId: 'g-new', extra: 1 }, 600);
  assert.deepEqual(await call(tokens, 'find', 'a2'), { jti: 'a2', grantId: 'g-new', extra: 1 });
  await call(tokens, 'revokeByGrantId', 'g-old');
  assert.notEqual(await call(tokens, 'find', 'a2'), undefined);
});

check('an expired entry is not found; one without expiry is', async () => {
  const grants = new PostgresAdapter('Grant', pool);
  await call(grants, 'upsert', 'e1', { jti: 'e1' }, -1);
  assert.equal(await call(grants, 'find', 'e1'), undefined);
  await call(grants, 'upsert', 'e2', { jti: 'e2' }, undefined);
  assert.deepEqual(await call(grants, 'find', 'e2'), { jti: 'e2' });
});

check('consume marks the entry consumed, now, and find says so', async () => {
  const refresh = new PostgresAdapter('RefreshToken', pool);
  await call(refresh, 'upsert', 'r1', { jti: 'r1', grantId: 'g1' }, 600);
  assert.equal((await call(refresh, 'find', 'r1')).consumed, undefined);
  const before = now();
  await call(refresh, 'consume', 'r1');
  const { consumed } = await call(refresh, 'find', 'r1');
  assert.equal(typeof consumed, 'number');
  assert.ok(consumed >= before - 1 && consumed <= now() + 1, `consumed ${consumed}`);
  // Saved consumed (the provider re-saves a model with its `consumed`): kept as saved.
  await call(refresh, 'upsert', 'r2', { jti: 'r2', consumed: 1700000000 }, 600);
  assert.equal((await call(refresh, 'find', 'r2')).consumed, 1700000000);
});

check('destroy removes the entry', async () => {
  const codes = new PostgresAdapter('AuthorizationCode', pool);
  await call(codes, 'upsert', 'c1', { jti: 'c1' }, 60);
  await call(codes, 'destroy', 'c1');
  assert.equal(await call(codes, 'find', 'c1'), undefined);
});

check('a session is found by its uid, a device code by its user code', async () => {
  const sessions = new PostgresAdapter('Session', pool);
  await call(sessions, 'upsert', 's1', { jti: 's1', uid: 'u-1', accountId: 'x' }, 600);
  assert.equal((await call(sessions, 'findByUid', 'u-1')).jti, 's1');
  assert.equal(await call(sessions, 'findByUid', 'u-2'), undefined);
  const devices = new PostgresAdapter('DeviceCode', pool);
  await call(devices, 'upsert', 'd1', { jti: 'd1', userCode: 'ABCD-EFGH' }, 600);
  assert.equal((await call(devices, 'findByUserCode', 'ABCD-EFGH')).jti, 'd1');
  assert.equal(await call(devices, 'findByUserCode', 'ABCD-XXXX'), undefined);
  await call(sessions, 'upsert', 's3', { jti: 's3', uid: 'u-3' }, -1);
  assert.equal(await call(sessions, 'findByUid', 'u-3'), undefined);
});

check("revokeByGrantId removes every model's entries of that grant, and only them", async () => {
  const access = new PostgresAdapter('AccessToken', pool);
  const refresh = new PostgresAdapter('RefreshToken', pool);
  await call(access, 'upsert', 'ga', { jti: 'ga', grantId: 'g7' }, 600);
  await call(refresh, 'upsert', 'gr', { jti: 'gr', grantId: 'g7' }, 600);
  await call(refresh, 'upsert', 'other', { jti: 'other', grantId: 'g8' }, 600);
  await call(refresh, 'revokeByGrantId', 'g7');
  assert.equal(await call(access, 'find', 'ga'), undefined);
  assert.equal(await call(refresh, 'find', 'gr'), undefined);
  assert.notEqual(await call(refresh, 'find', 'other'), undefined);
});

check('what was written is in the table, with its columns', async () => {
  const { rows } = await query(
    `SELECT grant_id, uid, user_code, expires_at IS NOT NULL AS expires, consumed_at IS NOT NULL
       AS consumed FROM ${TABLE} WHERE (kind, id) IN (('RefreshToken', 'r1'), ('Session', 's1'))
     ORDER BY kind`,
  );
  assert.deepEqual(rows, [
    { grant_id: 'g1', uid: null, user_code: null, expires: true, consumed: true },
    { grant_id: null, uid: 'u-1', user_code: null, expires: true, consumed: false },
  ]);
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok - ${name}\n${error.stack}`);
  }
}
await pool.end();
console.log(`${checks.length - failed} of ${checks.length} checks passed`);
process.exit(failed ? 1 : 0);
