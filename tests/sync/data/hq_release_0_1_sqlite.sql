CREATE TABLE hq_station (
	station_id VARCHAR(16) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	site VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked BOOLEAN NOT NULL, 
	acked_seq BIGINT NOT NULL, 
	last_push_at DATETIME, 
	PRIMARY KEY (station_id)
);
CREATE UNIQUE INDEX ix_hq_station_token_hash ON hq_station (token_hash);
CREATE TABLE hq_event (
	station_id VARCHAR(16) NOT NULL, 
	seq BIGINT NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL, 
	operator VARCHAR, 
	lpn VARCHAR, 
	rma_id VARCHAR, 
	payload JSON NOT NULL, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (station_id, seq)
);
CREATE INDEX ix_hq_event_at ON hq_event (at);
CREATE INDEX ix_hq_event_lpn ON hq_event (lpn);
CREATE INDEX ix_hq_event_kind_at ON hq_event (kind, at);
CREATE TABLE hq_conflict (
	id INTEGER NOT NULL, 
	station_id VARCHAR NOT NULL, 
	seq BIGINT NOT NULL, 
	received_at DATETIME NOT NULL, 
	event JSON NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE hq_conflict_resolved (
	id INTEGER NOT NULL, 
	conflict_id BIGINT, 
	station_id VARCHAR NOT NULL, 
	seq BIGINT NOT NULL, 
	received_at DATETIME NOT NULL, 
	sent JSON NOT NULL, 
	stored JSON NOT NULL, 
	kept VARCHAR NOT NULL, 
	resolved_at DATETIME NOT NULL, 
	resolved_by VARCHAR NOT NULL, 
	note VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE hq_rma (
	rma_id VARCHAR NOT NULL, 
	order_id VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	status VARCHAR NOT NULL, 
	updated_at DATETIME NOT NULL, 
	change_id BIGINT NOT NULL, 
	PRIMARY KEY (rma_id)
);
CREATE UNIQUE INDEX ix_hq_rma_change_id ON hq_rma (change_id);
CREATE TABLE hq_config (
	version VARCHAR NOT NULL, 
	bundle JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (version)
);
CREATE TABLE hq_reader (
	name VARCHAR(64) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked BOOLEAN NOT NULL, 
	PRIMARY KEY (name)
);
CREATE UNIQUE INDEX ix_hq_reader_token_hash ON hq_reader (token_hash);
CREATE TABLE hq_rma_line (
	rma_id VARCHAR NOT NULL, 
	line_no INTEGER NOT NULL, 
	sku VARCHAR NOT NULL, 
	gtin VARCHAR, 
	description VARCHAR NOT NULL, 
	category VARCHAR NOT NULL, 
	qty INTEGER NOT NULL, 
	unit_price VARCHAR(40) NOT NULL, 
	currency VARCHAR NOT NULL, 
	expected_serial VARCHAR, 
	reason_code VARCHAR NOT NULL, 
	carrier VARCHAR, 
	tracking_number VARCHAR, 
	change_id BIGINT NOT NULL, 
	PRIMARY KEY (rma_id, line_no), 
	FOREIGN KEY(rma_id) REFERENCES hq_rma (rma_id)
);
CREATE INDEX ix_hq_rma_line_change_id ON hq_rma_line (change_id);
CREATE INDEX ix_hq_conflict_station_seq ON hq_conflict (station_id, seq);
