-- Why the request's personal data were erased (PersonalDataErased.reason), next to erased_at: the
-- billing-block view tells a block closed by the invoice (invoice_issued) from a lost claim (the
-- data were erased, e.g. at the end of retention's billing hold, before the address came).
-- A reason code only, never data.
ALTER TABLE requests ADD COLUMN erasure_reason text;
