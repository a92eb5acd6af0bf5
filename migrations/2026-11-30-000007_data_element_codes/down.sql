DROP TABLE data_element_codes;
