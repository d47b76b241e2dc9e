-- Tax cases (issue 17, LEGAL.md L17): which VAT rule each invoice followed. No personal data:
-- the case is derived from the recipient's country, type and VAT id, which stay in the
-- (encrypted) recipient copy. Invoices issued before are domestic (a 0 % tariff: §19 UStG).
ALTER TABLE invoices
    ADD COLUMN tax_case text NOT NULL DEFAULT 'domestic'
        CHECK (tax_case IN ('domestic', 'foreign_consumer', 'reverse_charge', 'not_taxable',
                            'small_business'));
-- §33 S. 3 UStDV: no Kleinbetragsrechnung under reverse charge (nor for a business abroad).
ALTER TABLE invoices
    ADD CONSTRAINT invoices_zero_rated_are_full
        CHECK (tax_case NOT IN ('reverse_charge', 'not_taxable') OR (kind = 'full' AND vat_total = 0));
