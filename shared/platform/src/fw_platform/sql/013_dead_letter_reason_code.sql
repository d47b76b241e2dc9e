-- Why a message was parked, as a code (undecodable, rejected, failing): the metrics label and
-- what the parked-messages list shows. Rows parked before carry what their reason says.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS reason_code text;
UPDATE dead_letters SET reason_code = CASE WHEN reason LIKE 'handler failed %' THEN 'failing'
                                           ELSE 'unclassified' END
 WHERE reason_code IS NULL;
ALTER TABLE dead_letters ALTER COLUMN reason_code SET NOT NULL;
ALTER TABLE dead_letters ALTER COLUMN reason_code SET DEFAULT 'unclassified';
