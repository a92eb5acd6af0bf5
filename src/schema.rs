// @generated automatically by Diesel CLI.

diesel::table! {
    attachments (id) {
        id -> Uuid,
        report_id -> Uuid,
        subject -> Text,
        subject_id -> Nullable<Uuid>,
        kind -> Text,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        storage_key -> Text,
        revision -> Nullable<Int4>,
        uploaded_by -> Text,
        created_at -> Timestamptz,
    }
}

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
    data_element_codes (plan_id) {
        plan_id -> Uuid,
        data_set -> Text,
        codes -> Jsonb,
        version -> Int4,
        updated_at -> Timestamptz,
        updated_by -> Text,
    }
}

diesel::table! {
    document_settings (unit_id) {
        unit_id -> Uuid,
        superior_body -> Text,
        issuing_body -> Text,
        abbreviation -> Text,
        place -> Text,
        signer_authority -> Text,
        signer_title -> Text,
        signer_name -> Text,
        recipients -> Array<Text>,
        drafting_unit -> Text,
        updated_by -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    forms (id) {
        id -> Uuid,
        plan_id -> Uuid,
        version -> Int4,
        definition -> Jsonb,
        created_at -> Timestamptz,
        created_by -> Text,
    }
}

diesel::table! {
    idempotency_keys (principal_id, key) {
        principal_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        state -> Text,
        response_status -> Nullable<Int4>,
        response_type -> Nullable<Text>,
        response_headers -> Nullable<Jsonb>,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    indicators (id) {
        id -> Uuid,
        plan_id -> Uuid,
        code -> Text,
        name_vi -> Text,
        name_en -> Text,
        formula -> Text,
        target -> Float8,
        direction -> Text,
        source -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        targets -> Jsonb,
    }
}

diesel::table! {
    periods (id) {
        id -> Uuid,
        plan_id -> Uuid,
        kind -> Text,
        code -> Text,
        name -> Text,
        window_start -> Date,
        window_end -> Date,
        due_date -> Date,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    plan_tasks (id) {
        id -> Uuid,
        plan_id -> Uuid,
        code -> Text,
        title_vi -> Text,
        description_vi -> Text,
        plan_section -> Text,
        lead_unit_id -> Uuid,
        cooperating_unit_ids -> Array<Uuid>,
        due_date -> Nullable<Date>,
        period_ids -> Array<Uuid>,
        expected_output -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    plans (id) {
        id -> Uuid,
        year -> Int4,
        document_number -> Text,
        title -> Text,
        issue_date -> Nullable<Date>,
        legal_basis -> Text,
        issuing_unit_id -> Uuid,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        head_sign_off -> Bool,
    }
}

diesel::table! {
    report_revisions (report_id, number) {
        report_id -> Uuid,
        number -> Int4,
        form_id -> Uuid,
        data -> Jsonb,
        warnings -> Jsonb,
        submitted_at -> Timestamptz,
        submitted_by -> Text,
        late -> Bool,
        entered_by -> Nullable<Text>,
        entry_note -> Nullable<Text>,
    }
}

diesel::table! {
    revision_approvals (report_id, number) {
        report_id -> Uuid,
        number -> Int4,
        approved_at -> Timestamptz,
        approved_by -> Text,
        late -> Bool,
    }
}

diesel::table! {
    reminder_schedules (period_id) {
        period_id -> Uuid,
        offsets_days -> Array<Int4>,
        repeat_every_days -> Nullable<Int4>,
        enabled -> Bool,
        updated_by -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    reminders_sent (period_id, unit_id, step) {
        period_id -> Uuid,
        unit_id -> Uuid,
        step -> Text,
        sent_at -> Timestamptz,
        sent_by -> Text,
        message -> Nullable<Text>,
    }
}

diesel::table! {
    reports (id) {
        id -> Uuid,
        period_id -> Uuid,
        unit_id -> Uuid,
        form_id -> Uuid,
        status -> Text,
        data -> Jsonb,
        version -> Int4,
        revision -> Nullable<Int4>,
        submitted_at -> Nullable<Timestamptz>,
        submitted_by -> Nullable<Text>,
        late -> Nullable<Bool>,
        reviewed_at -> Nullable<Timestamptz>,
        reviewed_by -> Nullable<Text>,
        review_comment -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        title -> Text,
        body -> Text,
        data -> Jsonb,
        period_id -> Nullable<Uuid>,
        unit_id -> Nullable<Uuid>,
        report_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_emails (notification_id) {
        notification_id -> Uuid,
        email_to -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        claim_token -> Nullable<Uuid>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
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
        tokens_valid_after -> Nullable<Timestamptz>,
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
        tokens_valid_after -> Nullable<Timestamptz>,
        email_notifications -> Bool,
        unit_head -> Bool,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Uuid,
        started_at -> Timestamptz,
        latency_ms -> Int4,
        status_code -> Nullable<Int4>,
        error -> Nullable<Text>,
        cause -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        seq -> Int8,
        endpoint_id -> Uuid,
        event_id -> Uuid,
        ordering_key -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        round_attempts -> Int4,
        next_attempt_at -> Timestamptz,
        next_cause -> Text,
        locked_until -> Nullable<Timestamptz>,
        claim_token -> Nullable<Uuid>,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        description -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        event_types -> Array<Text>,
        unit_id -> Uuid,
        created_by -> Text,
        enabled -> Bool,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        unit_id -> Nullable<Uuid>,
        ordering_key -> Nullable<Text>,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(attachments -> reports (report_id));
diesel::joinable!(audit_events -> org_units (unit_id));
diesel::joinable!(data_element_codes -> plans (plan_id));
diesel::joinable!(document_settings -> org_units (unit_id));
diesel::joinable!(forms -> plans (plan_id));
diesel::joinable!(indicators -> plans (plan_id));
diesel::joinable!(periods -> plans (plan_id));
diesel::joinable!(plan_tasks -> org_units (lead_unit_id));
diesel::joinable!(plan_tasks -> plans (plan_id));
diesel::joinable!(notification_emails -> notifications (notification_id));
diesel::joinable!(notifications -> org_units (unit_id));
diesel::joinable!(notifications -> periods (period_id));
diesel::joinable!(notifications -> reports (report_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(plans -> org_units (issuing_unit_id));
diesel::joinable!(report_revisions -> forms (form_id));
diesel::joinable!(report_revisions -> reports (report_id));
diesel::joinable!(reminder_schedules -> periods (period_id));
diesel::joinable!(reminders_sent -> org_units (unit_id));
diesel::joinable!(reminders_sent -> periods (period_id));
diesel::joinable!(reports -> forms (form_id));
diesel::joinable!(reports -> org_units (unit_id));
diesel::joinable!(reports -> periods (period_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(service_clients -> org_units (unit_id));
diesel::joinable!(users -> org_units (unit_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_endpoints -> org_units (unit_id));
diesel::joinable!(webhook_events -> org_units (unit_id));

diesel::allow_tables_to_appear_in_same_query!(
    attachments,
    audit_events,
    data_element_codes,
    document_settings,
    forms,
    idempotency_keys,
    indicators,
    notification_emails,
    notifications,
    org_units,
    periods,
    plan_tasks,
    plans,
    refresh_tokens,
    reminder_schedules,
    reminders_sent,
    report_revisions,
    reports,
    revision_approvals,
    service_clients,
    users,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
);
