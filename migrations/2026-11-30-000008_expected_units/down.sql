DROP TABLE period_expected_units;
