-- Corrected invoices (issue 17, LEGAL.md L18): after a Storno, a new invoice with a new number
-- for the same session. A session still has at most one original invoice; each invoice is
-- corrected at most once (a correction that is cancelled in turn is corrected by the next).
-- No personal data: a reason code and numbers only.
ALTER TABLE invoices
    ADD COLUMN corrects text REFERENCES invoices (number),
    ADD COLUMN correction_reason text
        CHECK (correction_reason IN ('wrong_duration', 'wrong_recipient', 'wrong_tax_case')),
    ADD COLUMN priced_seconds integer CHECK (priced_seconds >= 0),
    ADD CONSTRAINT invoices_correction_has_reason CHECK ((corrects IS NULL) = (correction_reason IS NULL));
ALTER TABLE invoices DROP CONSTRAINT invoices_session_id_key;
CREATE UNIQUE INDEX invoices_one_original_per_session ON invoices (session_id) WHERE corrects IS NULL;
CREATE UNIQUE INDEX invoices_corrected_once ON invoices (corrects) WHERE corrects IS NOT NULL;
