-- The office's invoice list: newest first, filtered by period, status, kind, customer and ticket.
-- Append-only: earlier files stay as they were.

-- The request's ticket code (pseudonymous, from SupportRequestCreated) so the office can find an
-- invoice by the code the customer reads out on the phone. Rows recorded before this file have none.
ALTER TABLE request_facts ADD COLUMN ticket text CHECK (ticket ~ '^[0-9A-Z]{4}-[0-9A-Z]{3}$');
CREATE INDEX request_facts_ticket ON request_facts (ticket);

-- The list reads newest first and by customer.
CREATE INDEX invoices_issued ON invoices (issued_at DESC, number DESC);
CREATE INDEX invoices_customer ON invoices (customer_number);
