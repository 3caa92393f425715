CREATE TABLE hq_config (
    version character varying NOT NULL,
    bundle jsonb NOT NULL,
    created_at timestamp without time zone NOT NULL
);
CREATE TABLE hq_conflict (
    id integer NOT NULL,
    station_id character varying NOT NULL,
    seq bigint NOT NULL,
    received_at timestamp without time zone NOT NULL,
    event jsonb NOT NULL
);
CREATE SEQUENCE hq_conflict_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE hq_conflict_id_seq OWNED BY hq_conflict.id;
CREATE TABLE hq_conflict_resolved (
    id integer NOT NULL,
    conflict_id bigint,
    station_id character varying NOT NULL,
    seq bigint NOT NULL,
    received_at timestamp without time zone NOT NULL,
    sent jsonb NOT NULL,
    stored jsonb NOT NULL,
    kept character varying NOT NULL,
    resolved_at timestamp without time zone NOT NULL,
    resolved_by character varying NOT NULL,
    note character varying NOT NULL
);
CREATE SEQUENCE hq_conflict_resolved_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE hq_conflict_resolved_id_seq OWNED BY hq_conflict_resolved.id;
CREATE TABLE hq_event (
    station_id character varying(16) NOT NULL,
    seq bigint NOT NULL,
    kind character varying(64) NOT NULL,
    at timestamp without time zone NOT NULL,
    operator character varying,
    lpn character varying,
    rma_id character varying,
    payload jsonb NOT NULL,
    received_at timestamp without time zone NOT NULL
);
CREATE TABLE hq_reader (
    name character varying(64) NOT NULL,
    token_hash character varying(64) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    revoked boolean NOT NULL
);
CREATE TABLE hq_rma (
    rma_id character varying NOT NULL,
    order_id character varying NOT NULL,
    created_at timestamp without time zone NOT NULL,
    expires_at timestamp without time zone NOT NULL,
    status character varying NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    change_id bigint NOT NULL
);
CREATE TABLE hq_rma_line (
    rma_id character varying NOT NULL,
    line_no integer NOT NULL,
    sku character varying NOT NULL,
    gtin character varying,
    description character varying NOT NULL,
    category character varying NOT NULL,
    qty integer NOT NULL,
    unit_price character varying(40) NOT NULL,
    currency character varying NOT NULL,
    expected_serial character varying,
    reason_code character varying NOT NULL,
    carrier character varying,
    tracking_number character varying,
    change_id bigint NOT NULL
);
CREATE TABLE hq_station (
    station_id character varying(16) NOT NULL,
    token_hash character varying(64) NOT NULL,
    site character varying NOT NULL,
    created_at timestamp without time zone NOT NULL,
    revoked boolean NOT NULL,
    acked_seq bigint NOT NULL,
    last_push_at timestamp without time zone
);
ALTER TABLE ONLY hq_conflict ALTER COLUMN id SET DEFAULT nextval('hq_conflict_id_seq'::regclass);
ALTER TABLE ONLY hq_conflict_resolved ALTER COLUMN id SET DEFAULT nextval('hq_conflict_resolved_id_seq'::regclass);
ALTER TABLE ONLY hq_config
    ADD CONSTRAINT hq_config_pkey PRIMARY KEY (version);
ALTER TABLE ONLY hq_conflict
    ADD CONSTRAINT hq_conflict_pkey PRIMARY KEY (id);
ALTER TABLE ONLY hq_conflict_resolved
    ADD CONSTRAINT hq_conflict_resolved_pkey PRIMARY KEY (id);
ALTER TABLE ONLY hq_event
    ADD CONSTRAINT hq_event_pkey PRIMARY KEY (station_id, seq);
ALTER TABLE ONLY hq_reader
    ADD CONSTRAINT hq_reader_pkey PRIMARY KEY (name);
ALTER TABLE ONLY hq_rma_line
    ADD CONSTRAINT hq_rma_line_pkey PRIMARY KEY (rma_id, line_no);
ALTER TABLE ONLY hq_rma
    ADD CONSTRAINT hq_rma_pkey PRIMARY KEY (rma_id);
ALTER TABLE ONLY hq_station
    ADD CONSTRAINT hq_station_pkey PRIMARY KEY (station_id);
CREATE INDEX ix_hq_conflict_station_seq ON hq_conflict USING btree (station_id, seq);
CREATE INDEX ix_hq_event_at ON hq_event USING btree (at);
CREATE INDEX ix_hq_event_kind_at ON hq_event USING btree (kind, at);
CREATE INDEX ix_hq_event_lpn ON hq_event USING btree (lpn);
CREATE UNIQUE INDEX ix_hq_reader_token_hash ON hq_reader USING btree (token_hash);
CREATE UNIQUE INDEX ix_hq_rma_change_id ON hq_rma USING btree (change_id);
CREATE INDEX ix_hq_rma_line_change_id ON hq_rma_line USING btree (change_id);
CREATE UNIQUE INDEX ix_hq_station_token_hash ON hq_station USING btree (token_hash);
ALTER TABLE ONLY hq_rma_line
    ADD CONSTRAINT hq_rma_line_rma_id_fkey FOREIGN KEY (rma_id) REFERENCES hq_rma(rma_id);
