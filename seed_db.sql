-- resto: the restaurant database schema and the project's own reference data.
--
-- `resto db build` runs this file on a new SQLite database, then inserts the restaurant rows it
-- reads from SGD (SGD data is never committed). It matches the ORM in backend/models.py exactly
-- (tests/backend/test_models.py compares them). Tables other modules define on the shared Base
-- (e.g. the agent's session log) are created from the ORM after this script.

CREATE TABLE booking_policy (
	"key" VARCHAR(64) NOT NULL,
	value INTEGER NOT NULL,
	PRIMARY KEY ("key")
);

CREATE TABLE cuisines (
	id INTEGER NOT NULL,
	name VARCHAR(64) NOT NULL,
	name_key VARCHAR(64) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name),
	UNIQUE (name_key)
);

-- One row per (name, city) seen in SGD service_results; *_key are lower-case copies for
-- case-insensitive search; `cuisine` is the primary cuisine (see restaurant_cuisines for all).
CREATE TABLE restaurants (
	id INTEGER NOT NULL,
	name VARCHAR(128) NOT NULL,
	city VARCHAR(64) NOT NULL,
	name_key VARCHAR(128) NOT NULL,
	city_key VARCHAR(64) NOT NULL,
	cuisine VARCHAR(64) NOT NULL,
	price_range VARCHAR(16) NOT NULL,
	has_live_music BOOLEAN NOT NULL,
	serves_alcohol BOOLEAN NOT NULL,
	phone_number VARCHAR(32) NOT NULL,
	street_address VARCHAR(128) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_restaurants_name_city UNIQUE (name, city)
);
CREATE INDEX ix_restaurants_price_range ON restaurants (price_range);
CREATE INDEX ix_restaurants_name_key_city_key ON restaurants (name_key, city_key);
CREATE INDEX ix_restaurants_city_key ON restaurants (city_key);

-- Bookings made through the tools. table_number (1..capacity) is unique per slot, so no
-- database can hold more bookings for a slot than it has tables; it is NULL once cancelled.
CREATE TABLE reservations (
	id INTEGER NOT NULL,
	restaurant_id INTEGER NOT NULL,
	date VARCHAR(10) NOT NULL,
	time VARCHAR(5) NOT NULL,
	party_size INTEGER NOT NULL,
	status VARCHAR(16) NOT NULL,
	table_number INTEGER,
	created_at DATETIME NOT NULL,
	session_id VARCHAR(64),
	PRIMARY KEY (id),
	CONSTRAINT uq_reservations_table UNIQUE (restaurant_id, date, time, table_number),
	FOREIGN KEY(restaurant_id) REFERENCES restaurants (id) ON DELETE RESTRICT
);
CREATE INDEX ix_reservations_slot ON reservations (restaurant_id, date, time);
CREATE INDEX ix_reservations_session ON reservations (session_id);

CREATE TABLE restaurant_cuisines (
	restaurant_id INTEGER NOT NULL,
	cuisine_id INTEGER NOT NULL,
	PRIMARY KEY (restaurant_id, cuisine_id),
	FOREIGN KEY(restaurant_id) REFERENCES restaurants (id) ON DELETE CASCADE,
	FOREIGN KEY(cuisine_id) REFERENCES cuisines (id) ON DELETE CASCADE
);
CREATE INDEX ix_restaurant_cuisines_cuisine ON restaurant_cuisines (cuisine_id);

-- What SGD recorded for a booking attempt (restaurant, date, time, party size).
CREATE TABLE slot_outcomes (
	id INTEGER NOT NULL,
	restaurant_id INTEGER NOT NULL,
	date VARCHAR(10) NOT NULL,
	time VARCHAR(5) NOT NULL,
	party_size INTEGER NOT NULL,
	available BOOLEAN NOT NULL,
	alternative_time VARCHAR(5),
	capacity INTEGER,
	source VARCHAR(32) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_slot_outcomes_slot UNIQUE (restaurant_id, date, time, party_size),
	FOREIGN KEY(restaurant_id) REFERENCES restaurants (id) ON DELETE CASCADE
);

-- Reference data: bookings a slot SGD says nothing about can take, and how far (minutes) from
-- the asked time a full slot's alternative may be (SGD offered alternatives 15 or 30 min away).
INSERT INTO booking_policy ("key", value) VALUES ('default_slot_capacity', 3);
INSERT INTO booking_policy ("key", value) VALUES ('alternative_window_minutes', 30);
