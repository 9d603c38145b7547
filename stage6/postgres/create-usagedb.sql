-- Run once by the postgres image, when its volume is new: the usage
-- receiver's database, apart from the dice (its migrations create the table).
CREATE DATABASE usagedb OWNER dice;
