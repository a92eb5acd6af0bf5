// @generated automatically by Diesel CLI.

diesel::table! {
    audit_events (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_kind -> Text,
        actor_id -> Nullable<Uuid>,
        actor_name -> Text,
        actor_role -> Nullable<Text>,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        unit_id -> Nullable<Uuid>,
        request_id -> Nullable<Text>,
        change -> Jsonb,
    }
}

diesel::table! {
    org_units (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        kind -> Text,
        parent_id -> Nullable<Uuid>,
        path -> Text,
        depth -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    service_clients (id) {
        id -> Uuid,
        client_id -> Text,
        name -> Text,
        role -> Text,
        unit_id -> Uuid,
        secret_hash -> Bytea,
        active -> Bool,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        unit_id -> Uuid,
        active -> Bool,
        password_hash -> Text,
        password_changed_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::joinable!(audit_events -> org_units (unit_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(service_clients -> org_units (unit_id));
diesel::joinable!(users -> org_units (unit_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_events,
    org_units,
    refresh_tokens,
    service_clients,
    users,
);
