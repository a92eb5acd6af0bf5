-- What an issuing unit's documents print in their heading and signature block
-- (Decree 30/2020/NĐ-CP): the superior and issuing bodies, the abbreviation of the
-- number line, the place, the signer, the recipients and the drafting unit for
-- "Lưu: VT, …". A unit without a row prints defaults derived from the tree.
CREATE TABLE document_settings (
    unit_id uuid PRIMARY KEY REFERENCES org_units (id),
    superior_body text NOT NULL,
    issuing_body text NOT NULL CHECK (issuing_body <> ''),
    abbreviation text NOT NULL CHECK (abbreviation <> ''),
    place text NOT NULL CHECK (place <> ''),
    signer_authority text NOT NULL,
    signer_title text NOT NULL CHECK (signer_title <> ''),
    signer_name text NOT NULL,
    recipients text[] NOT NULL,
    drafting_unit text NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
