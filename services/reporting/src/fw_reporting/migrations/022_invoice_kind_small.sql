-- InvoiceIssued v3 names the small-amount invoice "small" (v1/v2 said "kleinbetrag"; the upcaster
-- maps it). Facts copied before this release keep the old word: one word for one kind, so a
-- report grouping by kind counts them together.
UPDATE invoices SET kind = 'small' WHERE kind = 'kleinbetrag';
