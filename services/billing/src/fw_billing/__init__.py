"""fernwartung billing: prices ended sessions by a versioned tariff and issues invoices."""
