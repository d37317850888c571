-- Run once by the postgres image when its data volume is first initialised: one database per
-- service (each service owns its data), all owned by the one demo user.
CREATE DATABASE contacts OWNER services;
CREATE DATABASE calendar OWNER services;
CREATE DATABASE notifications OWNER services;
