-- The organisation tree, the people and machines that act in it, their refresh tokens,
-- and the append-only audit log every later feature writes to.

CREATE TABLE org_units (
    id          uuid PRIMARY KEY,
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    kind        text NOT NULL CHECK (kind IN ('department', 'office', 'subordinate_unit', 'other')),
    parent_id   uuid REFERENCES org_units (id),
    -- Materialised path of ids from the root, '/<root>/<child>/.../<self>/': a subtree is
    -- a prefix match, so scope checks and subtree lists need no recursive query.
    path        text NOT NULL,
    depth       integer NOT NULL CHECK (depth >= 0),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE UNIQUE INDEX org_units_code_key ON org_units (lower(code));
CREATE UNIQUE INDEX org_units_path_key ON org_units (path text_pattern_ops);
CREATE INDEX org_units_parent_idx ON org_units (parent_id);

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    username            text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9_.-]{1,63}$'),
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    email               text,
    role                text NOT NULL CHECK (role IN ('admin', 'coordinator', 'viewer', 'reporter')),
    unit_id             uuid NOT NULL REFERENCES org_units (id),
    active              boolean NOT NULL DEFAULT true,
    password_hash       text NOT NULL,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE INDEX users_unit_idx ON users (unit_id);

CREATE TABLE service_clients (
    id          uuid PRIMARY KEY,
    client_id   text NOT NULL UNIQUE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text NOT NULL CHECK (role IN ('admin', 'coordinator', 'viewer', 'reporter')),
    unit_id     uuid NOT NULL REFERENCES org_units (id),
    -- SHA-256 of a 256-bit random secret: a slow hash adds nothing at that entropy.
    secret_hash bytea NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    created_by  uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX service_clients_unit_idx ON service_clients (unit_id);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    -- All tokens descended from one login; reuse of a spent token revokes the family.
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'client', 'system')),
    actor_id    uuid,
    actor_name  text NOT NULL,
    actor_role  text,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    -- The unit the object belongs to, so coordinators read the events of their subtree.
    unit_id     uuid REFERENCES org_units (id),
    request_id  text,
    change      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_object_idx ON audit_events (object_type, object_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_unit_idx ON audit_events (unit_id, id);

-- The log is append-only for everyone, including the service itself.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update_or_delete
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
