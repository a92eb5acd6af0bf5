DROP TABLE attachments;
DROP FUNCTION attachments_keep_frozen();
