-- migrations.sql: append-only. Never edit a block that has shipped; add a new one.
-- `flask --app app db upgrade` applies every block above the schema version (SQLite: PRAGMA
-- user_version; PostgreSQL: the one-row table gatehouse_schema_version), each in its own
-- transaction. Timestamps are UTC (ISO-8601 text on SQLite, TIMESTAMP on PostgreSQL); secrets
-- are SHA-256 hex digests; except in the grant tables since block 7: integer milliseconds and
-- 32-byte digests (BLOB on SQLite, BYTEA on PostgreSQL).
--
-- One history, two engines: statements before any `-- sqlite:` / `-- postgresql:` line of a
-- block run on both; after such a line, only on that engine, up to the next such line or the
-- end of the block. A block with one engine's form must have the other's (the runner checks).
-- PostgreSQL forms keep every table and column name; ids are 64-bit identities (as SQLite's
-- rowids are), booleans BOOLEAN, timestamps TIMESTAMP, `"user"` quoted (a reserved word there).

-- migrate: 1
-- sqlite:
CREATE TABLE user (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  sub TEXT NOT NULL UNIQUE,               -- stable OIDC subject, never the username
  email TEXT,
  email_verified INTEGER NOT NULL DEFAULT 0,
  name TEXT,
  password_hash TEXT,                     -- NULL: cannot sign in with a password
  is_admin INTEGER NOT NULL DEFAULT 0,
  claims TEXT NOT NULL DEFAULT '{}',      -- extra id_token/userinfo claims (mock mode), JSON
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE user_session (
  id INTEGER PRIMARY KEY,
  sid_hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
  auth_time TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX user_session_user ON user_session (user_id);

CREATE TABLE personal_access_token (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  last_used_at TEXT,
  expires_at TEXT
);
CREATE INDEX personal_access_token_user ON personal_access_token (user_id);

CREATE TABLE oauth_client (
  id INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  client_type TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
  token_endpoint_auth_method TEXT NOT NULL
    CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
  redirect_uris TEXT NOT NULL DEFAULT '[]',          -- JSON list
  post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
  grant_types TEXT NOT NULL DEFAULT '["authorization_code", "refresh_token"]',
  scope TEXT NOT NULL DEFAULT '',                    -- allowed scopes, space-separated; '' = any known
  logo_uri TEXT,
  client_uri TEXT,                                   -- homepage
  tos_uri TEXT,
  policy_uri TEXT,
  contacts TEXT NOT NULL DEFAULT '[]',
  software_id TEXT,
  software_version TEXT,
  application_type TEXT NOT NULL DEFAULT 'web',
  registration TEXT NOT NULL DEFAULT 'admin'
    CHECK (registration IN ('admin', 'dynamic', 'metadata_document', 'mock')),
  registration_token_hash TEXT UNIQUE,               -- RFC 7592 registration_access_token
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE client_secret (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  prefix TEXT NOT NULL UNIQUE,            -- public lookup part of the secret
  secret_hash TEXT NOT NULL,
  last6 TEXT NOT NULL,                    -- shown in lists so people can tell secrets apart
  created_at TEXT NOT NULL,
  last_used_at TEXT
);
CREATE INDEX client_secret_client ON client_secret (client_id);

CREATE TABLE resource (
  id INTEGER PRIMARY KEY,
  uri TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  scopes TEXT NOT NULL DEFAULT '',        -- space-separated
  owner_id INTEGER REFERENCES oauth_client (id) ON DELETE SET NULL,
  created_at TEXT NOT NULL
);

-- A grant: what one code, device code or client_credentials request issued. Access and refresh
-- tokens hang off it, so a replayed code or a reused refresh token revokes the whole family.
CREATE TABLE token_family (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES user (id) ON DELETE CASCADE,
  client_secret_id INTEGER REFERENCES client_secret (id) ON DELETE CASCADE,
  grant_type TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  audience TEXT NOT NULL,
  nonce TEXT,
  auth_time TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,               -- absolute lifetime; rotation never extends it
  revoked_at TEXT
);
CREATE INDEX token_family_client_user ON token_family (client_id, user_id);
CREATE INDEX token_family_secret ON token_family (client_secret_id);

CREATE TABLE authorization_code (
  id INTEGER PRIMARY KEY,
  code_hash TEXT NOT NULL UNIQUE,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
  redirect_uri TEXT,                      -- as sent at authorize; NULL when it was omitted
  scope TEXT NOT NULL DEFAULT '',
  resource TEXT,                          -- as sent at authorize; NULL when it was omitted
  audience TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  code_challenge_method TEXT NOT NULL,
  nonce TEXT,
  auth_time TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT,
  family_id INTEGER REFERENCES token_family (id) ON DELETE SET NULL
);
CREATE INDEX authorization_code_expires ON authorization_code (expires_at);

CREATE TABLE access_token (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  family_id INTEGER NOT NULL REFERENCES token_family (id) ON DELETE CASCADE,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES user (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  audience TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX access_token_family ON access_token (family_id);
CREATE INDEX access_token_expires ON access_token (expires_at);

CREATE TABLE refresh_token (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  family_id INTEGER NOT NULL REFERENCES token_family (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,               -- idle lifetime
  rotated_at TEXT,                        -- set once used; presenting it again is reuse
  revoked_at TEXT
);
CREATE INDEX refresh_token_family ON refresh_token (family_id);
CREATE INDEX refresh_token_expires ON refresh_token (expires_at);

-- Remembered consent (OIDC): (user, client, audience) -> the scopes the user allowed.
CREATE TABLE consent (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  audience TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (user_id, client_id, audience)
);

CREATE TABLE device_code (
  id INTEGER PRIMARY KEY,
  device_code_hash TEXT NOT NULL UNIQUE,
  user_code_hash TEXT NOT NULL UNIQUE,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  resource TEXT,
  audience TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  user_id INTEGER REFERENCES user (id) ON DELETE CASCADE,
  interval INTEGER NOT NULL DEFAULT 5,
  last_polled_at TEXT,
  auth_time TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  family_id INTEGER REFERENCES token_family (id) ON DELETE SET NULL
);
CREATE INDEX device_code_expires ON device_code (expires_at);

CREATE TABLE signing_key (
  id INTEGER PRIMARY KEY,
  kid TEXT NOT NULL UNIQUE,
  alg TEXT NOT NULL DEFAULT 'RS256',
  private_pem TEXT NOT NULL,
  public_jwk TEXT NOT NULL,               -- JSON
  created_at TEXT NOT NULL,
  retired_at TEXT,                        -- no longer signs new tokens
  expires_at TEXT                         -- published until then; NULL while active
);

CREATE TABLE initial_access_token (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  created_by INTEGER REFERENCES user (id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT
);

-- Counted events for throttling across workers: failed logins, wrong device codes,
-- registrations. `bucket` names the counter ("login:user:alice", "register:ip:127.0.0.1").
CREATE TABLE throttle_event (
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX throttle_event_bucket ON throttle_event (bucket, created_at);

CREATE TABLE audit_event (
  id INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL DEFAULT '',
  target TEXT NOT NULL DEFAULT '',
  changes TEXT NOT NULL DEFAULT '{}',     -- JSON {field: [old, new]}; never secrets
  ip TEXT NOT NULL DEFAULT '',
  success INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX audit_event_created ON audit_event (created_at);

-- Mock mode: errors queued by the control API for the next request to an endpoint.
CREATE TABLE mock_forced_error (
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  status INTEGER NOT NULL,
  error TEXT NOT NULL,
  error_description TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE INDEX mock_forced_error_endpoint ON mock_forced_error (endpoint);

-- postgresql:
CREATE TABLE "user" (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  sub TEXT NOT NULL UNIQUE,
  email TEXT,
  email_verified BOOLEAN NOT NULL DEFAULT FALSE,
  name TEXT,
  password_hash TEXT,
  is_admin BOOLEAN NOT NULL DEFAULT FALSE,
  claims TEXT NOT NULL DEFAULT '{}',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE user_session (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  sid_hash TEXT NOT NULL UNIQUE,
  user_id BIGINT NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  auth_time TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP
);
CREATE INDEX user_session_user ON user_session (user_id);

CREATE TABLE personal_access_token (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  last_used_at TIMESTAMP,
  expires_at TIMESTAMP
);
CREATE INDEX personal_access_token_user ON personal_access_token (user_id);

CREATE TABLE oauth_client (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  client_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  client_type TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
  token_endpoint_auth_method TEXT NOT NULL
    CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
  redirect_uris TEXT NOT NULL DEFAULT '[]',
  post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
  grant_types TEXT NOT NULL DEFAULT '["authorization_code", "refresh_token"]',
  scope TEXT NOT NULL DEFAULT '',
  logo_uri TEXT,
  client_uri TEXT,
  tos_uri TEXT,
  policy_uri TEXT,
  contacts TEXT NOT NULL DEFAULT '[]',
  software_id TEXT,
  software_version TEXT,
  application_type TEXT NOT NULL DEFAULT 'web',
  registration TEXT NOT NULL DEFAULT 'admin'
    CHECK (registration IN ('admin', 'dynamic', 'metadata_document', 'mock')),
  registration_token_hash TEXT UNIQUE,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE client_secret (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  prefix TEXT NOT NULL UNIQUE,
  secret_hash TEXT NOT NULL,
  last6 TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  last_used_at TIMESTAMP
);
CREATE INDEX client_secret_client ON client_secret (client_id);

CREATE TABLE resource (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  uri TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  scopes TEXT NOT NULL DEFAULT '',
  owner_id BIGINT REFERENCES oauth_client (id) ON DELETE SET NULL,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE token_family (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES "user" (id) ON DELETE CASCADE,
  client_secret_id BIGINT REFERENCES client_secret (id) ON DELETE CASCADE,
  grant_type TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  audience TEXT NOT NULL,
  nonce TEXT,
  auth_time TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP
);
CREATE INDEX token_family_client_user ON token_family (client_id, user_id);
CREATE INDEX token_family_secret ON token_family (client_secret_id);

CREATE TABLE authorization_code (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  code_hash TEXT NOT NULL UNIQUE,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  redirect_uri TEXT,
  scope TEXT NOT NULL DEFAULT '',
  resource TEXT,
  audience TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  code_challenge_method TEXT NOT NULL,
  nonce TEXT,
  auth_time TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP,
  family_id BIGINT REFERENCES token_family (id) ON DELETE SET NULL
);
CREATE INDEX authorization_code_expires ON authorization_code (expires_at);

CREATE TABLE access_token (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  family_id BIGINT NOT NULL REFERENCES token_family (id) ON DELETE CASCADE,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES "user" (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  audience TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP
);
CREATE INDEX access_token_family ON access_token (family_id);
CREATE INDEX access_token_expires ON access_token (expires_at);

CREATE TABLE refresh_token (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  family_id BIGINT NOT NULL REFERENCES token_family (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  rotated_at TIMESTAMP,
  revoked_at TIMESTAMP
);
CREATE INDEX refresh_token_family ON refresh_token (family_id);
CREATE INDEX refresh_token_expires ON refresh_token (expires_at);

CREATE TABLE consent (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  audience TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  UNIQUE (user_id, client_id, audience)
);

CREATE TABLE device_code (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  device_code_hash TEXT NOT NULL UNIQUE,
  user_code_hash TEXT NOT NULL UNIQUE,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  resource TEXT,
  audience TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  user_id BIGINT REFERENCES "user" (id) ON DELETE CASCADE,
  interval INTEGER NOT NULL DEFAULT 5,
  last_polled_at TIMESTAMP,
  auth_time TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  family_id BIGINT REFERENCES token_family (id) ON DELETE SET NULL
);
CREATE INDEX device_code_expires ON device_code (expires_at);

CREATE TABLE signing_key (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  kid TEXT NOT NULL UNIQUE,
  alg TEXT NOT NULL DEFAULT 'RS256',
  private_pem TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  retired_at TIMESTAMP,
  expires_at TIMESTAMP
);

CREATE TABLE initial_access_token (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  created_by BIGINT REFERENCES "user" (id) ON DELETE SET NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);

CREATE TABLE throttle_event (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  bucket TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_event_bucket ON throttle_event (bucket, created_at);

CREATE TABLE audit_event (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  created_at TIMESTAMP NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL DEFAULT '',
  target TEXT NOT NULL DEFAULT '',
  changes TEXT NOT NULL DEFAULT '{}',
  ip TEXT NOT NULL DEFAULT '',
  success BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX audit_event_created ON audit_event (created_at);

CREATE TABLE mock_forced_error (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  endpoint TEXT NOT NULL,
  status INTEGER NOT NULL,
  error TEXT NOT NULL,
  error_description TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX mock_forced_error_endpoint ON mock_forced_error (endpoint);

-- migrate: 2
-- Two kinds of clients: `vetted` ones an administrator created or approved, and unvetted ones
-- that registered themselves (RFC 7591, metadata documents, mock-mode adoption). Existing
-- admin-created clients are vetted; everything else starts unvetted.
-- sqlite:
ALTER TABLE oauth_client ADD COLUMN vetted INTEGER NOT NULL DEFAULT 0;
UPDATE oauth_client SET vetted = 1 WHERE registration = 'admin';

-- postgresql:
ALTER TABLE oauth_client ADD COLUMN vetted BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE oauth_client SET vetted = TRUE WHERE registration = 'admin';

-- migrate: 3
-- RFC 9068: each protected resource chooses the format of its access tokens, `jwt` or
-- `opaque`; NULL follows GATEHOUSE_ACCESS_TOKEN_FORMAT.
ALTER TABLE resource ADD COLUMN token_format TEXT;

-- migrate: 4
-- SEP-837 / OIDC Registration §2: whether a client declared its application_type. A declared
-- `web` client registers https redirect URIs only; one that left it out (stored as the default
-- `web`) keeps the loopback and private-use redirects MCP clients used before SEP-837. A stored
-- `native` was always declared (it is never the default).
-- sqlite:
ALTER TABLE oauth_client ADD COLUMN application_type_declared INTEGER NOT NULL DEFAULT 0;
UPDATE oauth_client SET application_type_declared = 1 WHERE application_type = 'native';

-- postgresql:
ALTER TABLE oauth_client ADD COLUMN application_type_declared BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE oauth_client SET application_type_declared = TRUE WHERE application_type = 'native';

-- migrate: 5
-- Accounts: a password an administrator reset must be changed at the next sign-in; each
-- session remembers the device and address it started from and when it was last seen, so
-- /account can list them.
-- sqlite:
ALTER TABLE user ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_session ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE user_session ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE user_session ADD COLUMN last_seen_at TEXT;

-- postgresql:
ALTER TABLE "user" ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE user_session ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE user_session ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE user_session ADD COLUMN last_seen_at TIMESTAMP;

-- migrate: 6
-- A value shown once (a new client secret): POST -> redirect -> GET shows it and deletes the
-- row, so a reload shows nothing. Only ciphertext is stored; its key is in the admin's
-- session cookie, and the row is found by the key's SHA-256.
-- sqlite:
CREATE TABLE shown_once (
  id INTEGER PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  user_session_id INTEGER NOT NULL REFERENCES user_session (id) ON DELETE CASCADE,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  ciphertext TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX shown_once_user_session ON shown_once (user_session_id);
CREATE INDEX shown_once_client ON shown_once (client_id);

-- postgresql:
CREATE TABLE shown_once (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  key_hash TEXT NOT NULL UNIQUE,
  user_session_id BIGINT NOT NULL REFERENCES user_session (id) ON DELETE CASCADE,
  client_id BIGINT NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  ciphertext TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL
);
CREATE INDEX shown_once_user_session ON shown_once (user_session_id);
CREATE INDEX shown_once_client ON shown_once (client_id);

-- migrate: 7
-- Lean grant storage (issue 14: 729 MB per million grants before, under 300 after).
-- * Codes, device codes, access and refresh tokens: one table each, keyed by the secret's
--   SHA-256 digest as a 32-byte blob (was 64 hex characters plus a rowid and a UNIQUE index).
--   WITHOUT ROWID is SQLite's way of storing the rows in the key's own B-tree; PostgreSQL
--   has no such clause (a plain PRIMARY KEY on a bytea column does the same job there).
-- * Their timestamps, and the family's, are integer milliseconds since the Unix epoch, UTC
--   (was ISO text): 4-6 bytes instead of 26, and sub-second order kept (a refresh token's
--   rotation vs its reuse). models.UtcMillisField keeps Python code on naive UTC datetimes.
-- * An access token no longer repeats its family's client, user and audience; validity is
--   read with the family (a join): revoking a family is one UPDATE of the family row. A
--   token keeps its own revoked_at for RFC 7009 revocation of one access token; a refresh
--   token has none (revoking one revokes its family, RFC 7009 §2.1), and the old column was
--   only ever set together with the family's.
-- * family_id in these tables is a plain integer, not REFERENCES token_family: without an
--   index on it (40 bytes per token) SQLite would scan the whole table for every family it
--   deletes. A token whose family is gone is dead (every lookup joins the family) and
--   `db purge` deletes it. No expiry indexes: purge walks each table once in key order.
-- Data moves with two functions the migration runner registers on its connection, because
-- SQLite 3.40 has no unhex(): unhex(hex text) -> blob, and ms_since_epoch(ISO text) ->
-- integer (NULL stays NULL). PostgreSQL changes the same tables in place (ALTER ... TYPE ...
-- USING decode(x, 'hex') / extract(epoch ...)): its tables have no rowid to drop.
-- sqlite:
CREATE TABLE token_family_v7 (
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES user (id) ON DELETE CASCADE,
  client_secret_id INTEGER REFERENCES client_secret (id) ON DELETE CASCADE,
  grant_type TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  audience TEXT NOT NULL,                 -- every token of the family is for this audience
  nonce TEXT,
  auth_time INTEGER,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,            -- absolute lifetime; rotation never extends it
  revoked_at INTEGER                      -- revokes every token of the family
);
INSERT INTO token_family_v7
  SELECT id, client_id, user_id, client_secret_id, grant_type, scope, audience, nonce,
         ms_since_epoch(auth_time), ms_since_epoch(created_at), ms_since_epoch(expires_at),
         ms_since_epoch(revoked_at)
  FROM token_family;

CREATE TABLE authorization_code_v7 (
  code_hash BLOB PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
  redirect_uri TEXT,                      -- as sent at authorize; NULL when it was omitted
  scope TEXT NOT NULL DEFAULT '',
  resource TEXT,                          -- as sent at authorize; NULL when it was omitted
  audience TEXT NOT NULL,
  code_challenge TEXT NOT NULL,
  code_challenge_method TEXT NOT NULL,
  nonce TEXT,
  auth_time INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  family_id INTEGER                       -- what it issued, so a replay revokes that
) WITHOUT ROWID;
INSERT INTO authorization_code_v7
  SELECT unhex(code_hash), client_id, user_id, redirect_uri, scope, resource, audience,
         code_challenge, code_challenge_method, nonce, ms_since_epoch(auth_time),
         ms_since_epoch(created_at), ms_since_epoch(expires_at), ms_since_epoch(used_at),
         family_id
  FROM authorization_code;

CREATE TABLE access_token_v7 (
  token_hash BLOB PRIMARY KEY,
  family_id INTEGER NOT NULL,             -- client, user, audience and validity come from it
  scope TEXT NOT NULL DEFAULT '',         -- may be narrower than the family's (a refresh)
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER                      -- this token alone (RFC 7009)
) WITHOUT ROWID;
INSERT INTO access_token_v7
  SELECT unhex(token_hash), family_id, scope, ms_since_epoch(created_at),
         ms_since_epoch(expires_at), ms_since_epoch(revoked_at)
  FROM access_token;

CREATE TABLE refresh_token_v7 (
  token_hash BLOB PRIMARY KEY,
  family_id INTEGER NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,            -- idle lifetime
  rotated_at INTEGER                      -- set once used; presenting it again is reuse
) WITHOUT ROWID;
INSERT INTO refresh_token_v7
  SELECT unhex(token_hash), family_id, scope, ms_since_epoch(created_at),
         ms_since_epoch(expires_at), ms_since_epoch(rotated_at)
  FROM refresh_token;

CREATE TABLE device_code_v7 (
  device_code_hash BLOB PRIMARY KEY,
  user_code_hash BLOB NOT NULL UNIQUE,
  client_id INTEGER NOT NULL REFERENCES oauth_client (id) ON DELETE CASCADE,
  scope TEXT NOT NULL DEFAULT '',
  resource TEXT,
  audience TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  user_id INTEGER REFERENCES user (id) ON DELETE CASCADE,
  interval INTEGER NOT NULL DEFAULT 5,
  last_polled_at INTEGER,
  auth_time INTEGER,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  family_id INTEGER
) WITHOUT ROWID;
INSERT INTO device_code_v7
  SELECT unhex(device_code_hash), unhex(user_code_hash), client_id, scope, resource, audience,
         status, user_id, interval, ms_since_epoch(last_polled_at), ms_since_epoch(auth_time),
         ms_since_epoch(created_at), ms_since_epoch(expires_at), family_id
  FROM device_code;

-- The runner's connection has foreign_keys off, so dropping a parent cascades nothing.
DROP TABLE access_token;
DROP TABLE refresh_token;
DROP TABLE authorization_code;
DROP TABLE device_code;
DROP TABLE token_family;
ALTER TABLE token_family_v7 RENAME TO token_family;
ALTER TABLE authorization_code_v7 RENAME TO authorization_code;
ALTER TABLE access_token_v7 RENAME TO access_token;
ALTER TABLE refresh_token_v7 RENAME TO refresh_token;
ALTER TABLE device_code_v7 RENAME TO device_code;
CREATE INDEX token_family_client_user ON token_family (client_id, user_id);
CREATE INDEX token_family_secret ON token_family (client_secret_id);

-- postgresql:
ALTER TABLE token_family
  ALTER COLUMN auth_time TYPE BIGINT USING round(extract(epoch FROM auth_time) * 1000),
  ALTER COLUMN created_at TYPE BIGINT USING round(extract(epoch FROM created_at) * 1000),
  ALTER COLUMN expires_at TYPE BIGINT USING round(extract(epoch FROM expires_at) * 1000),
  ALTER COLUMN revoked_at TYPE BIGINT USING round(extract(epoch FROM revoked_at) * 1000);

DROP INDEX authorization_code_expires;
ALTER TABLE authorization_code
  DROP CONSTRAINT authorization_code_family_id_fkey,
  DROP CONSTRAINT authorization_code_code_hash_key,
  DROP COLUMN id,
  ALTER COLUMN code_hash TYPE BYTEA USING decode(code_hash, 'hex'),
  ALTER COLUMN auth_time TYPE BIGINT USING round(extract(epoch FROM auth_time) * 1000),
  ALTER COLUMN created_at TYPE BIGINT USING round(extract(epoch FROM created_at) * 1000),
  ALTER COLUMN expires_at TYPE BIGINT USING round(extract(epoch FROM expires_at) * 1000),
  ALTER COLUMN used_at TYPE BIGINT USING round(extract(epoch FROM used_at) * 1000),
  ADD PRIMARY KEY (code_hash);

DROP INDEX access_token_family;
DROP INDEX access_token_expires;
ALTER TABLE access_token
  DROP CONSTRAINT access_token_family_id_fkey,
  DROP CONSTRAINT access_token_token_hash_key,
  DROP COLUMN id,
  DROP COLUMN client_id,
  DROP COLUMN user_id,
  DROP COLUMN audience,
  ALTER COLUMN token_hash TYPE BYTEA USING decode(token_hash, 'hex'),
  ALTER COLUMN created_at TYPE BIGINT USING round(extract(epoch FROM created_at) * 1000),
  ALTER COLUMN expires_at TYPE BIGINT USING round(extract(epoch FROM expires_at) * 1000),
  ALTER COLUMN revoked_at TYPE BIGINT USING round(extract(epoch FROM revoked_at) * 1000),
  ADD PRIMARY KEY (token_hash);

DROP INDEX refresh_token_family;
DROP INDEX refresh_token_expires;
ALTER TABLE refresh_token
  DROP CONSTRAINT refresh_token_family_id_fkey,
  DROP CONSTRAINT refresh_token_token_hash_key,
  DROP COLUMN id,
  DROP COLUMN revoked_at,
  ALTER COLUMN token_hash TYPE BYTEA USING decode(token_hash, 'hex'),
  ALTER COLUMN created_at TYPE BIGINT USING round(extract(epoch FROM created_at) * 1000),
  ALTER COLUMN expires_at TYPE BIGINT USING round(extract(epoch FROM expires_at) * 1000),
  ALTER COLUMN rotated_at TYPE BIGINT USING round(extract(epoch FROM rotated_at) * 1000),
  ADD PRIMARY KEY (token_hash);

DROP INDEX device_code_expires;
ALTER TABLE device_code
  DROP CONSTRAINT device_code_family_id_fkey,
  DROP CONSTRAINT device_code_device_code_hash_key,
  DROP COLUMN id,
  ALTER COLUMN device_code_hash TYPE BYTEA USING decode(device_code_hash, 'hex'),
  ALTER COLUMN user_code_hash TYPE BYTEA USING decode(user_code_hash, 'hex'),
  ALTER COLUMN last_polled_at TYPE BIGINT USING round(extract(epoch FROM last_polled_at) * 1000),
  ALTER COLUMN auth_time TYPE BIGINT USING round(extract(epoch FROM auth_time) * 1000),
  ALTER COLUMN created_at TYPE BIGINT USING round(extract(epoch FROM created_at) * 1000),
  ALTER COLUMN expires_at TYPE BIGINT USING round(extract(epoch FROM expires_at) * 1000),
  ADD PRIMARY KEY (device_code_hash);

-- migrate: 8
-- OIDC Registration §2: the algorithm a client's id_tokens are signed with, RS256 (the
-- default) or ES256. signing_key already fits an EC P-256 key: `alg` says which, the PKCS#8
-- PEM and the public JWK hold either kind, and each algorithm has its own active key.
ALTER TABLE oauth_client ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256';

-- migrate: 9
-- Issue 14: every worker keeps the clients it authenticates (and their secrets) in memory, and
-- drops them all when this counter (one row, one column per kind of cache) changed: exact across processes, no TTL. Triggers
-- bump it in the same transaction as any change to a client or a secret, whoever makes it
-- (pages, API, CLI, RFC 7591/7592, metadata documents, mock mode, cascades, raw SQL).
-- `last_used_at` is written once a minute per secret in use and changes nothing a cache
-- keeps, so updates of that column alone do not bump it.
-- PostgreSQL: the same table, one trigger function, statement-level triggers (one bump per
-- statement is enough: the cache only asks whether anything changed).
-- sqlite:
CREATE TABLE cache_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  client_version INTEGER NOT NULL
);
INSERT INTO cache_version (id, client_version) VALUES (1, 0);
CREATE TRIGGER oauth_client_inserted AFTER INSERT ON oauth_client
BEGIN UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1; END;
CREATE TRIGGER oauth_client_updated AFTER UPDATE ON oauth_client
BEGIN UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1; END;
CREATE TRIGGER oauth_client_deleted AFTER DELETE ON oauth_client
BEGIN UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1; END;
CREATE TRIGGER client_secret_inserted AFTER INSERT ON client_secret
BEGIN UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1; END;
-- Every column but last_used_at (list a new column here when client_secret gains one).
CREATE TRIGGER client_secret_updated
AFTER UPDATE OF id, client_id, prefix, secret_hash, last6, created_at ON client_secret
BEGIN UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1; END;
CREATE TRIGGER client_secret_deleted AFTER DELETE ON client_secret
BEGIN UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1; END;

-- postgresql:
CREATE TABLE cache_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  client_version BIGINT NOT NULL
);
INSERT INTO cache_version (id, client_version) VALUES (1, 0);
CREATE FUNCTION bump_client_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_version SET client_version = client_version + 1 WHERE id = 1;
  RETURN NULL;
END;
$$;
CREATE TRIGGER oauth_client_changed AFTER INSERT OR UPDATE OR DELETE ON oauth_client
FOR EACH STATEMENT EXECUTE FUNCTION bump_client_version();
CREATE TRIGGER client_secret_inserted_deleted AFTER INSERT OR DELETE ON client_secret
FOR EACH STATEMENT EXECUTE FUNCTION bump_client_version();
-- Every column but last_used_at (list a new column here when client_secret gains one).
CREATE TRIGGER client_secret_updated
AFTER UPDATE OF id, client_id, prefix, secret_hash, last6, created_at ON client_secret
FOR EACH STATEMENT EXECUTE FUNCTION bump_client_version();

-- migrate: 10
-- Issue 14: the discovery documents and the JWKS are per-worker bytes, and the id_token signer
-- keeps the active key id, each filed under a counter that triggers bump in the same
-- transaction as any change to a resource or a signing key, whoever makes it (pages, API,
-- CLI, raw SQL): a worker reads the one cache_version row to know whether its copy is
-- current, exact across processes, no TTL. The row holds every such counter, so one read by
-- primary key answers for all of them.
ALTER TABLE cache_version ADD COLUMN resource_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cache_version ADD COLUMN signing_key_version BIGINT NOT NULL DEFAULT 0;
-- sqlite:
CREATE TRIGGER resource_inserted AFTER INSERT ON resource
BEGIN UPDATE cache_version SET resource_version = resource_version + 1 WHERE id = 1; END;
CREATE TRIGGER resource_updated AFTER UPDATE ON resource
BEGIN UPDATE cache_version SET resource_version = resource_version + 1 WHERE id = 1; END;
CREATE TRIGGER resource_deleted AFTER DELETE ON resource
BEGIN UPDATE cache_version SET resource_version = resource_version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_key_inserted AFTER INSERT ON signing_key
BEGIN UPDATE cache_version SET signing_key_version = signing_key_version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_key_updated AFTER UPDATE ON signing_key
BEGIN UPDATE cache_version SET signing_key_version = signing_key_version + 1 WHERE id = 1; END;
CREATE TRIGGER signing_key_deleted AFTER DELETE ON signing_key
BEGIN UPDATE cache_version SET signing_key_version = signing_key_version + 1 WHERE id = 1; END;

-- postgresql:
CREATE FUNCTION bump_resource_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_version SET resource_version = resource_version + 1 WHERE id = 1;
  RETURN NULL;
END;
$$;
CREATE FUNCTION bump_signing_key_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_version SET signing_key_version = signing_key_version + 1 WHERE id = 1;
  RETURN NULL;
END;
$$;
CREATE TRIGGER resource_changed AFTER INSERT OR UPDATE OR DELETE ON resource
FOR EACH STATEMENT EXECUTE FUNCTION bump_resource_version();
CREATE TRIGGER signing_key_changed AFTER INSERT OR UPDATE OR DELETE ON signing_key
FOR EACH STATEMENT EXECUTE FUNCTION bump_signing_key_version();

-- migrate: 11
-- Issue 14: every client authentication checks its throttle buckets (rules/throttle.py). A
-- worker remembers which buckets passed at which `throttle_version`, and triggers bump it in
-- the same transaction as any new throttle event: while it stands still no failure has been
-- counted anywhere, so counts can only have fallen and the check need not count again. Read
-- in the same row as `client_version`: one read by primary key serves both caches. Deleting
-- events (purge, a forgiven login) only lowers counts and bumps nothing.
ALTER TABLE cache_version ADD COLUMN throttle_version BIGINT NOT NULL DEFAULT 0;
-- sqlite:
CREATE TRIGGER throttle_event_inserted AFTER INSERT ON throttle_event
BEGIN UPDATE cache_version SET throttle_version = throttle_version + 1 WHERE id = 1; END;

-- postgresql:
CREATE FUNCTION bump_throttle_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_version SET throttle_version = throttle_version + 1 WHERE id = 1;
  RETURN NULL;
END;
$$;
CREATE TRIGGER throttle_event_inserted AFTER INSERT ON throttle_event
FOR EACH STATEMENT EXECUTE FUNCTION bump_throttle_version();
