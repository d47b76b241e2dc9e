"""The retention map: every stored personal field of every service, why, where, until when.

Each :class:`RetentionEntry` names its places as ``service.schema.table.column``. Pseudonymous
identifiers (``request_id``, ``session_id``, …) are matched by column name in every schema, so a
new table keyed by them is covered; everything else must be listed here by place or on the
not-personal list (:mod:`fw_privacy.not_personal`). ``tests/privacy/test_retention_map.py``
reads every service's migrations and fails on any column that is neither.

Principle for the not-personal list: a column that is only an attribute of a pseudonymous record
(a time, an amount, a status) is not personal *by itself*; it is personal only through the
identifier of its row, which is classified here with the rule that ends the link to a person.
"""

from __future__ import annotations

from fw_privacy.model import DeletionRule, OtherPlace, Place, ProcessingActivity, RetentionEntry, Role

CONTROLLER = "[Name, Anschrift und Kontaktdaten des Verantwortlichen]"
DPO = "[Kontaktdaten der/des Datenschutzbeauftragten, falls benannt]"

CALLERS = "Ansprechpersonen von Kunden (Anrufende), auch Verbraucher und Einzelunternehmer"
CUSTOMERS = "Stammkunden (Inhaber und Ansprechpersonen)"
STAFF = "Beschäftigte (Technikerinnen und Techniker, Büro)"
INTERNAL_TECH = "intern: Technikerinnen und Techniker (Warteschlange, Sitzung)"
INTERNAL_OFFICE = "intern: Büro/Abrechnung"
AUDITOR = "Finanzbehörden bei einer Außenprüfung (§ 147 Abs. 6 AO)"

ART6B = "Art. 6 Abs. 1 lit. b DSGVO (Vertrag: Bearbeitung der Anfrage, Erbringung und Abrechnung)"
ART6C_TAX = "Art. 6 Abs. 1 lit. c DSGVO i. V. m. § 14 Abs. 4 UStG, § 14b UStG, § 147 AO, § 257 HGB"
ART6C_ACCOUNT = "Art. 6 Abs. 1 lit. c DSGVO i. V. m. Art. 5 Abs. 2, Art. 24 DSGVO (Rechenschaftspflicht)"
ART6F_OPS = "Art. 6 Abs. 1 lit. f DSGVO (sicherer Betrieb, Nachvollziehbarkeit) i. V. m. Art. 32 DSGVO"
ART88 = ("Art. 6 Abs. 1 lit. b DSGVO (Arbeitsvertrag) i. V. m. Art. 88 DSGVO, § 26 BDSG "
         "(Anwendbarkeit nach EuGH C-34/21 prüfen)")

# ------------------------------------------------------------------ processing activities
ACTIVITIES: tuple[ProcessingActivity, ...] = (
    ProcessingActivity(
        "VT-01", "Annahme von Fernwartungsanfragen", Role.CONTROLLER,
        "Aufnahme der Anfrage mit Kontaktdaten und Zustimmung zu den Nutzungsbedingungen; Rückruf und "
        "Zuordnung in der Warteschlange.", (ART6B,), (CALLERS,), (INTERNAL_TECH, INTERNAL_OFFICE),
        services=("intake", "retention")),
    ProcessingActivity(
        "VT-02", "Durchführung von Fernwartungssitzungen", Role.CONTROLLER,
        "Warteschlange, Beginn und Ende der Sitzung, Erfassung der Erklärung, Stammkunde werden zu wollen, "
        "Nachtragen einer fehlenden Rechnungsanschrift.", (ART6B, ART88), (CALLERS, STAFF),
        (INTERNAL_TECH, INTERNAL_OFFICE), services=("session", "retention")),
    ProcessingActivity(
        "VT-03", "Abrechnung und Rechnungsversand", Role.CONTROLLER,
        "Preisermittlung nach Tarif, Ausstellung der Rechnung (Kleinbetragsrechnung ohne Empfänger bzw. "
        "Rechnung nach § 14 UStG), Versand per E-Mail auf Wunsch.", (ART6B, ART6C_TAX), (CALLERS,),
        (INTERNAL_OFFICE, "E-Mail-Dienstleister des Büros [falls eingesetzt]"), services=("billing",)),
    ProcessingActivity(
        "VT-04", "Aufbewahrung der Rechnungskopien", Role.CONTROLLER,
        "Aufbewahrung jeder ausgestellten Rechnung (PDF, ggf. XML) wie ausgestellt für die gesetzliche Frist.",
        (ART6C_TAX,), (CALLERS,), (INTERNAL_OFFICE, AUDITOR), services=("billing",)),
    ProcessingActivity(
        "VT-05", "Kundenkonten für Stammkunden", Role.CONTROLLER,
        "Dauerhaftes Kundenkonto, nur wenn der Kunde in der Sitzung erklärt, Stammkunde werden zu wollen.",
        (ART6B,), (CUSTOMERS,), (INTERNAL_OFFICE, INTERNAL_TECH), services=("billing",)),
    ProcessingActivity(
        "VT-06", "Datenschutz-Nachweise", Role.CONTROLLER,
        "Zugriffsprotokoll des Datentresors, Löschprotokoll, Register der AVV-Anfragen, Auskünfte nach Art. 15.",
        (ART6C_ACCOUNT,), (CALLERS, CUSTOMERS), ("intern: Datenschutz/Büro", "Aufsichtsbehörde auf Anforderung"),
        services=("retention",)),
    ProcessingActivity(
        "VT-07", "Betrieb: Ereignishistorie, Auswertungen, Protokolle", Role.CONTROLLER,
        "Nachvollziehbare, prüfbare Historie aller Vorgänge (nur pseudonyme Kennungen), Auswertungen, "
        "Betriebsprotokolle und Kennzahlen.", (ART6F_OPS, ART6C_TAX), (CALLERS, STAFF),
        ("intern: Betrieb/Büro",), services=("intake", "session", "billing", "retention", "reporting")),
    ProcessingActivity(
        "VT-08", "Anmeldung an den internen Seiten", Role.CONTROLLER,
        "Benutzerkonten der Beschäftigten (Name, Rolle, Passwort-Hash) für die Weboberfläche.", (ART88,),
        (STAFF,), ("intern: Administration",), services=("web",)),
    ProcessingActivity(
        "AV-01", "Fernwartung im Auftrag von Kunden", Role.PROCESSOR,
        "Einsehen und Bedienen der Systeme des Kunden während der Sitzung auf dessen Weisung (Art. 28 DSGVO). "
        "Dieses System speichert davon nichts (keine Bildschirm-, Tastatur- oder Dateiinhalte).",
        ("Art. 28 DSGVO (AVV mit dem jeweiligen Kunden)",),
        (("Beschäftigte, Kunden, Patienten/Mandanten u. a. Personen, deren Daten in den Systemen des "
          "Kunden gespeichert sind"),), ("keine (Unterauftragsverarbeiter siehe AVV Anlage 2)",),
        third_countries="[abhängig von der Fernwartungssoftware, siehe AVV Anlage 2]"),
)

# ------------------------------------------------------------------ deletion rules used twice
_VAULT_RULE = DeletionRule(
    "LK 0.2", "Rechnung ausgestellt (InvoiceIssued; bis auf eine für den Rechnungsversand angegebene "
    "E-Mail-Adresse, die nach LK 0.5 gelöscht wird), Sitzung ohne Abrechnung (SessionNotBilled), Anfrage "
    "zurückgezogen (SupportRequestWithdrawn); spätestens 14 Tage nach Speicherung (LK 1.1, Suchlauf). "
    "Wartet die Abrechnung auf eine Rechnungsanschrift, die in der Anfrage fehlt (BillingBlocked: eine "
    "Rechnung nach § 14 UStG über 250 EUR brutto braucht sie), oder konnte die Rechnung nicht erstellt "
    "werden (BillingBlocked mit Grund, z. B. document_render_failed), ist der Zweck „Abrechnung“ noch offen: "
    "dann spätestens 90 Tage nach der ersten Sperre (LK 5.8, Abrechnungsfrist, Suchlauf), mindestens "
    "aber 14 Tage nach Speicherung",
    "unverzüglich; spätestens 14 Tage nach Erhebung, bei gesperrter Abrechnung spätestens 90 Tage nach "
    "der ersten Sperre",
    "DELETE der Daten-, Erklärungs- und Schlüsselzeilen, dauerhafter Löschvermerk, Ereignis "
    "PersonalDataErased (Grund abandoned auch am Ende der Abrechnungsfrist); die Abrechnung schließt eine "
    "noch gesperrte Sitzung dann als nicht abgerechnet (SessionNotBilled, Grund recipient_data_erased: "
    "verlorene Forderung, für das Büro sichtbar), eine später nachgetragene Anschrift wird nicht mehr "
    "angenommen; nach einer Wiederherstellung erneute Löschung (reapply)",
    ("services/retention/src/fw_retention/application/erasure.py",
     "services/retention/src/fw_retention/domain/rules.py",
     "services/retention/src/fw_retention/application/restore.py", "tests/privacy/test_raw_storage_scan.py",
     "services/billing/src/fw_billing/application/handlers.py", "tests/e2e/test_billing_hold.py"))
_ARCHIVE_RULE = DeletionRule(
    "LK 4.3", "Ende des Kalenderjahres der Ausstellung", "8 Jahre (Vernichtung ab 1.1. des 9. Folgejahres; "
    "länger bei offener Festsetzungsfrist, § 147 Abs. 3 S. 5 AO)",
    "Vernichtung des Jahrgangs: Archivzeilen, Empfängerzeilen und Archivschlüssel des Jahres; die "
    "Datenbank lehnt eine frühere Löschung ab",
    ("services/billing/src/fw_billing/application/archive.py",
     "services/billing/src/fw_billing/migrations/002_documents_archive.sql"))
_PSEUDONYM_RULE = DeletionRule(
    "LK 9.6", "—", "Die Zuordnung zu einer Person endet mit der Löschung im Datentresor (LK 0.2), bei "
    "Rechnungen nach § 14 UStG mit der Vernichtung der Rechnungskopie (LK 4.3), bei Stammkunden mit "
    "der Löschung des Kundenkontos (LK 0.4) und der Vernichtung ihrer Rechnungskopien (LK 4.3)",
    "Die Kennungen selbst bleiben in der Ereignishistorie und den daraus gebildeten Tabellen.",
    ("services/retention/src/fw_retention/application/erasure.py",), automated=False,
    open_point="Für die Ereignishistorie (und die aus ihr gebildeten Tabellen) ist keine Löschfrist "
               "festgelegt; sie ist unveränderlich (deny delete/purge). Festzulegen ist, ob sie nach "
               "10 Jahren (§ 147 Abs. 1 Nr. 1, Abs. 3 AO: Bücher/Aufzeichnungen) insgesamt ersetzt wird.")


def _everywhere(table: str, column: str, services: tuple[str, ...]) -> tuple[Place, ...]:
    return tuple(Place(s, table, column) for s in services)


_OUTBOX_SERVICES = ("intake", "session", "billing", "retention", "reporting")

ENTRIES: tuple[RetentionEntry, ...] = (
    RetentionEntry(
        "E-VAULT-DATA", "Anfragedaten im Datentresor", "VT-01", "Kontakt- und Adressdaten",
        ("Firma", "Name der Ansprechperson", "Telefonnummer (E.164)", "E-Mail-Adresse (optional)",
         "Rechnungsanschrift (optional, auch nachgetragen)", "USt-IdNr. (optional)",
         "Leitweg-ID (optional)"),
        (CALLERS,), "Bearbeitung der Anfrage und Abrechnung; nicht für spätere Anfragen", (ART6B,),
        (INTERNAL_TECH, INTERNAL_OFFICE), _VAULT_RULE,
        ("T-VAULT-ENC", "T-ACCESS-LOG", "T-ERASURE", "T-RESTORE", "T-NATS-PERMS", "T-DB-ROLES"),
        places=(Place("retention", "vault_entries", "ciphertext"), Place("retention", "vault_keys", "wrapped_key")),
        other_places=(
            OtherPlace("Nachrichtenweg", "NATS request/reply vault.v1.* (nicht im Ereignisstrom)",
                       "nur im Arbeitsspeicher während der Anfrage; nie gespeichert oder protokolliert"),
            OtherPlace("HTTP-Antwort", "session GET /api/queue, GET /api/sessions/{id}/contact, GET /api/running-sessions, "
                       "retention GET /api/requests/{id}/export",
                       "nur zur Anzeige bzw. Auskunft; nicht gespeichert"),
            OtherPlace("Datenbank-Backups", "Sicherungen des Schemas retention",
                       "nur als Chiffrat; Hauptschlüssel nicht im Backup; erneute Löschung bei Wiederherstellung")),
        encrypted_at_rest=True,
        notes=(("Der Schlüssel je Anfrage (wrapped_key) ist kein Inhalt, macht das Chiffrat aber lesbar; "
                "er wird mit den Daten gelöscht (zusätzlich zur Löschung der Daten, nicht statt ihrer)."),
               ("Abrechnungsfrist (LK 5.8): Solange die Abrechnung auf die fehlende Rechnungsanschrift wartet, "
                "sind die Daten für die Erfüllung des Vertrags noch erforderlich (Art. 6 Abs. 1 lit. b, "
                "Art. 17 Abs. 1 lit. a DSGVO e contrario); die Frist ist begrenzt, damit die Daten nicht "
                "unbegrenzt auf eine Anschrift warten (Art. 5 Abs. 1 lit. e). Sie zählt ab dem Ereignis "
                "BillingBlocked (retention.billing_holds: nur Kennungen und Zeitpunkt). Das Büro sieht an der "
                "Sitzung, bis wann die Daten gelöscht werden; das Prüfwerkzeug kennt die Frist "
                "(fernwartung audit verify --billing-hold)."))),
    RetentionEntry(
        "E-VAULT-STATEMENT", "Erklärung, Stammkunde werden zu wollen (Wortlaut)", "VT-02", "Vertragsdaten",
        ("Wortlaut der Erklärung", "Technikerkürzel", "Zeitpunkt"), (CALLERS, STAFF),
        "Nachweis des Kundenwunsches als Grundlage des Kundenkontos", (ART6B,), (INTERNAL_OFFICE,),
        _VAULT_RULE, ("T-VAULT-ENC", "T-ERASURE", "T-RESTORE"),
        places=(Place("retention", "vault_statements", "ciphertext"),), encrypted_at_rest=True,
        notes=(("Im Ereignis CustomerPromoted steht nur der SHA-256 des Wortlauts; der Wortlaut selbst geht "
                "verschlüsselt in das Kundenkonto über (E-CUSTOMER)."),)),
    RetentionEntry(
        "E-RECIPIENT", "Rechnungsempfänger einer Rechnung nach § 14 UStG", "VT-04", "Kontakt- und Adressdaten",
        ("Firma", "Name", "Anschrift", "USt-IdNr. (Reverse Charge)", "Leitweg-ID (öffentliche Auftraggeber)"),
        (CALLERS,), "Pflichtangaben der Rechnung und deren Aufbewahrung",
        (ART6C_TAX,), (INTERNAL_OFFICE, AUDITOR), _ARCHIVE_RULE, ("T-BILLING-ENC", "T-ARCHIVE-GUARD"),
        places=(Place("billing", "invoice_recipients", "data_enc"),), encrypted_at_rest=True,
        other_places=(
            OtherPlace("HTTP-Antwort", "billing GET /api/exports/datev.csv (USt-IdNr. nur bei Reverse Charge)",
                       "für die Buchhaltung des Büros: Zusammenfassende Meldung, § 18a UStG"),),
        notes=("Kleinbetragsrechnungen (bis 250 EUR brutto) haben keinen Empfänger: keine Zeile hier.",)),
    RetentionEntry(
        "E-WORK-NOTE", "Notiz „Ausgeführte Arbeiten“ der Sitzung (Rechnungsposition)", "VT-03", "Abrechnungsdaten",
        (("Freitext der Technikerin/des Technikers, höchstens 500 Zeichen (kann Namen oder Systeme des Kunden "
          "nennen)"), "Technikerkürzel", "Zeitpunkt"), (CALLERS, STAFF),
        "Art und Umfang der Leistung auf der Rechnungsposition der Sitzung (§ 14 Abs. 4 Nr. 5 UStG); nach "
        "der Ausstellung Teil der aufbewahrten Rechnung", (ART6B, ART6C_TAX), (INTERNAL_TECH, INTERNAL_OFFICE, AUDITOR),
        DeletionRule("LK 4.3", "Sitzung ohne Abrechnung (SessionNotBilled, auch verlorene Forderung): sofort; "
                     "Sitzung, die die Abrechnung nie erreicht (nie beendet): Schreiben der Notiz; "
                     "sonst wie die Rechnung: Ende des Kalenderjahres, in dem die Notiz geschrieben wurde",
                     "ohne Rechnung: unverzüglich; Sitzung nie beendet: 30 Tage nach dem letzten Schreiben "
                     "(einstellbar: FW_BILLING_WORK_NOTE_ORPHAN_DAYS); mit Rechnung: 8 Jahre wie die "
                     "Rechnungskopie (§ 14b UStG, § 147 AO); die ausgestellte Rechnung im Archiv (E-ARCHIVE) "
                     "trägt den Text für die volle Frist",
                     "Bis zur Ausstellung der Rechnung änderbar (nur die eigene Sitzung, geprüft beim "
                     "Sitzungsdienst), danach eingefroren (Änderung wird abgelehnt, GoBD). DELETE durch einen "
                     "Datenbank-Trigger, sobald die Sitzung als nicht abgerechnet gilt; DELETE durch den "
                     "Suchlauf von billing (alle 6 Stunden), wenn die Sitzung die Abrechnung nach der Frist "
                     "nicht erreicht hat; mit dem Archivjahrgang (Schlüssel des Schreibjahres) vernichtet",
                     ("services/billing/src/fw_billing/application/work_notes.py",
                      "services/billing/src/fw_billing/migrations/023_work_notes.sql",
                      "services/billing/tests/integration/test_billing_work_notes.py")),
        ("T-BILLING-ENC", "T-NO-PII-OPS", "T-PSEUDO-STREAM"),
        places=(Place("billing", "work_notes", "note_enc"),), encrypted_at_rest=True,
        other_places=(
            OtherPlace("HTTP-Antwort", "billing GET /api/sessions/{Sitzung}/work-note; Weboberfläche "
                       "/technik/sitzungen/{Sitzung} (nur die eigene Sitzung) und Druckansicht der Rechnung im Büro",
                       "nur zur Anzeige; nie in Ereignissen, Protokollen, Kopfzeilen oder Kennzahlen"),),
        notes=(("Die Notiz steht als Text unter der ersten Position der Rechnung (PDF) und als Positionsnotiz "
                "(BT-127) in der E-Rechnung; eine Stornorechnung und eine korrigierte Rechnung derselben "
                "Sitzung zeigen dieselbe Notiz."),)),
    RetentionEntry(
        "E-ARCHIVE", "Rechnungskopien (PDF, ggf. XML) wie ausgestellt", "VT-04", "Abrechnungsdaten",
        ("Rechnungsdokument; bei Rechnungen nach § 14 UStG mit Firma, Name und Anschrift des Empfängers",),
        (CALLERS,), "Gesetzliche Aufbewahrung der ausgestellten Rechnung", (ART6C_TAX,),
        (INTERNAL_OFFICE, AUDITOR), _ARCHIVE_RULE, ("T-BILLING-ENC", "T-ARCHIVE-GUARD", "T-KLEINBETRAG"),
        places=(Place("billing", "invoice_archive", "pdf_enc"), Place("billing", "invoice_archive", "xml_enc")),
        encrypted_at_rest=True),
    RetentionEntry(
        "E-DELIVERY-EMAIL", "E-Mail-Adresse für den Rechnungsversand (nach der Rechnung)", "VT-03", "Kontaktdaten",
        ("E-Mail-Adresse",), (CALLERS,),
        "Zustellung der Rechnung auf Wunsch des Kunden: die Rechnung ist erst mit der Übermittlung "
        "ausgestellt (§ 14 Abs. 1 UStG; LEGAL.md L21)", (ART6B,),
        (INTERNAL_OFFICE, "E-Mail-Dienstleister des Büros [falls eingesetzt]"),
        DeletionRule("LK 0.5", "Zustellung erfolgt (InvoiceDelivered, auch „als zugestellt markiert“) oder "
                     "aufgegeben (InvoiceDeliveryFailed: Postfach unbekannt, Adresse fehlt, Wiederholungen "
                     "erschöpft); spätestens mit Ende der Zustellfrist (FW_RETENTION_DELIVERY_HOLD_DAYS, "
                     "Standard 14 Tage nach der Rechnung, Suchlauf), was auch immer geschah",
                     "unverzüglich nach Zustellung oder Aufgabe; spätestens 14 Tage nach der Rechnung",
                     "Beim Löschen auf InvoiceIssued (LK 0.2) wird nur die E-Mail-Adresse unter dem Schlüssel "
                     "der Anfrage in eine eigene Zeile umverschlüsselt (PersonalDataErased scope "
                     "all_but_delivery_email mit delivery_hold_until); der zweite Schritt löscht Zeile und "
                     "Schlüssel (PersonalDataErased scope delivery_email, Grund invoice_delivered, "
                     "invoice_delivery_failed oder delivery_hold_ended). Die Abrechnung liest die Adresse bei "
                     "jedem Versuch aus dem Datentresor (Zweck delivery) und hält keine Kopie. Ohne "
                     "E-Mail-Adresse ändert sich nichts (LK 0.2 löscht alles). Die Rechnung bleibt über den "
                     "Abruf-Link des Kunden erreichbar, ohne dass Kontaktdaten aufbewahrt werden",
                     ("services/retention/src/fw_retention/application/erasure.py",
                      "services/retention/src/fw_retention/domain/rules.py",
                      "services/billing/src/fw_billing/application/delivery.py",
                      "tests/e2e/test_delivery_erasure.py")),
        ("T-VAULT-ENC", "T-ERASURE", "T-RESTORE", "T-ACCESS-LOG"),
        places=(Place("retention", "vault_delivery_emails", "ciphertext"),), encrypted_at_rest=True,
        notes=(("Das Büro sieht Zustellfehler in Klartext („SMTP ist nicht eingerichtet“, „Postfach existiert "
                "nicht“, „Server nicht erreichbar“), nie die Adresse; ein Server, der nicht erreichbar ist, "
                "wird bis zum Ende der Zustellfrist mit wachsendem Abstand erneut versucht. Das Prüfwerkzeug "
                "kennt die Frist (fernwartung audit verify --delivery-hold) und misst beide Schritte ab ihrem "
                "eigenen Auslöser."),)),
    RetentionEntry(
        "E-DELIVERY", "E-Mail-Adresse in älteren Versandaufträgen der Abrechnung", "VT-03", "Kontaktdaten",
        ("E-Mail-Adresse",),
        (CALLERS,), "Versand der Rechnung auf Wunsch des Kunden", (ART6B,),
        (INTERNAL_OFFICE, "E-Mail-Dienstleister des Büros [falls eingesetzt]"),
        DeletionRule("LK 0.5", "Versand der E-Mail oder endgültiges Scheitern; neue Versandaufträge enthalten "
                     "keine Adresse mehr (sie wird je Versuch aus dem Datentresor gelesen)",
                     "unverzüglich nach Versand oder endgültigem Scheitern; spätestens 30 Tage nach dem "
                     "Scheitern (LK 2.5)",
                     "Die verschlüsselte Adresse wird beim Versand und beim Aufgeben entfernt "
                     "(Datenbank-Bedingung: ein versendeter Eintrag hat keine Adresse); übrig gebliebene nach "
                     "Frist",
                     ("services/billing/src/fw_billing/application/delivery.py",
                      "services/billing/src/fw_billing/migrations/016_delivery_from_vault.sql")),
        ("T-BILLING-ENC",), places=(Place("billing", "deliveries", "email_enc"),), encrypted_at_rest=True),
    RetentionEntry(
        "E-CUSTOMER", "Kundenkonto eines Stammkunden", "VT-05", "Stamm- und Kontaktdaten",
        ("Firma", "Name", "Telefon", "E-Mail", "Anschrift", "Wortlaut der Erklärung"), (CUSTOMERS,),
        "Betreuung als Stammkunde auf dessen ausdrücklichen Wunsch", (ART6B,), (INTERNAL_OFFICE, INTERNAL_TECH),
        DeletionRule("LK 0.4", "Löschverlangen des Stammkunden (Art. 17 Abs. 1 DSGVO) oder Ende der "
                     "Geschäftsbeziehung; das Büro löst die Löschung aus (Seite „Kundenkonto“ bzw. "
                     "POST /api/customers/{Kundennummer}/erasure mit Grund customer_request bzw. "
                     "relationship_ended und Kürzel der/des Beschäftigten)",
                     "unverzüglich nach dem Auslöser; ein Löschverlangen spätestens innerhalb eines Monats "
                     "(Art. 12 Abs. 3 DSGVO)",
                     "UPDATE auf NULL der verschlüsselten Personenfelder und des Erklärungszeitpunkts; das "
                     "Konto wird mit Zeitpunkt, Grund und Kürzel geschlossen, die Kundennummer bleibt (sie "
                     "steht auf ausgestellten Rechnungen) und wird nie neu vergeben; die Datenbank lehnt jede "
                     "spätere Änderung eines geschlossenen Kontos ab, eine spätere Beförderung derselben "
                     "Anfrage legt es nicht neu an; Ereignis CustomerAccountErased ohne personenbezogene Daten; "
                     "nach einer Wiederherstellung erneute Löschung beim Start von billing",
                     ("services/billing/src/fw_billing/application/customers.py",
                      "services/billing/src/fw_billing/migrations/003_customer_erasure.sql",
                      "services/billing/tests/integration/test_billing_customer_erasure.py")),
        ("T-BILLING-ENC", "T-DB-ROLES", "T-RESTORE", "T-ORG-ACCOUNTS"),
        places=(Place("billing", "customer_accounts", "personal_enc"),
                Place("billing", "customer_accounts", "stated_at")),
        other_places=(
            OtherPlace("HTTP-Antwort", "billing GET /api/customers, GET /api/exports/customers.csv; Weboberfläche "
                       "/buero/kunden", "nur zur Anzeige bzw. für die eigene Buchhaltung des Büros"),
            OtherPlace("Datenbank-Backups", "Sicherungen des Schemas billing",
                       "nur als Chiffrat; Hauptschlüssel (FW_BILLING_ARCHIVE_KEY) nicht im Backup; erneute "
                       "Löschung gelöschter Konten beim Start von billing")),
        encrypted_at_rest=True,
        notes=(("Rechnungen mit der Kundennummer bleiben unverändert im Rechnungsarchiv, bei Rechnungen nach "
                "§ 14 UStG mit Firma, Name und Anschrift des Empfängers (E-RECIPIENT, E-ARCHIVE): Art. 17 "
                "Abs. 3 lit. b DSGVO i. V. m. § 14b UStG, § 147 AO; sie werden mit ihrem Jahrgang nach "
                "8 Jahren vernichtet."),
               ("Der Kundenschlüssel eines Jahres gilt für alle in diesem Jahr angelegten Konten; gelöscht "
                "werden deshalb die Daten selbst, nicht (nur) ein Schlüssel (Abschnitt 4.4)."))),
    RetentionEntry(
        "E-ACCESS-LOG", "Zugriffsprotokoll des Datentresors", "VT-06", "Protokolldaten",
        ("Vorgangskennung", "Zweck", "Ergebnis", "Zeitpunkt"), (CALLERS,),
        "Nachweis zweckgebundener Zugriffe und erteilter Auskünfte", (ART6C_ACCOUNT,), ("intern: Datenschutz/Büro",),
        DeletionRule("LK 3.3", "Ende des Kalenderjahres des Eintrags", "3 Jahre (einstellbar: "
                     "FW_RETENTION_RECORDS_KEEP_YEARS)", "DELETE durch den Suchlauf von retention",
                     ("services/retention/src/fw_retention/application/service.py",
                      "services/retention/tests/integration/test_privacy_http.py")),
        ("T-ACCESS-LOG",), pseudonymous=True,
        places=tuple(Place("retention", "vault_access_log", c) for c in ("request_id", "purpose", "outcome", "at"))),
    RetentionEntry(
        "E-AVV-REQUESTS", "Register der AVV-Anfragen", "VT-06", "Protokolldaten",
        ("Zeitpunkt", "Kanal", "Kundennummer oder Ticketnummer (optional)", "Fassung des AVV"), (CUSTOMERS, CALLERS),
        "Nachweis, dass der AVV auf Anfrage angeboten wurde", (ART6C_ACCOUNT,), ("intern: Datenschutz/Büro",),
        DeletionRule("LK 3.3", "Ende des Kalenderjahres der Anfrage", "3 Jahre (einstellbar: "
                     "FW_RETENTION_RECORDS_KEEP_YEARS)", "DELETE durch den Suchlauf von retention",
                     ("services/retention/src/fw_retention/application/avv.py",)),
        ("T-DB-ROLES",), pseudonymous=True,
        places=tuple(Place("retention", "avv_requests", c) for c in ("customer_number", "ticket", "requested_at",
                                                                       "channel"))),
    RetentionEntry(
        "E-ERASURE-LOG", "Löschprotokoll (Löschvermerke)", "VT-06", "Protokolldaten",
        ("Vorgangskennung", "Grund", "Zeitpunkt", "auslösendes Ereignis", ("Umfang (alles / alles bis auf die "
         "Zustell-E-Mail / die Zustell-E-Mail)"), "Ende der Zustellfrist"), (CALLERS,),
        "Nachweis der Löschung; verhindert jede spätere Speicherung; Grundlage der erneuten Löschung nach "
        "einer Wiederherstellung", (ART6C_ACCOUNT,), ("intern: Datenschutz/Büro",),
        DeletionRule("LK 9.6", "—", "so lange wie die Ereignishistorie und jedes Backup, aus dem gelöschte "
                     "Daten zurückkommen könnten", "keine Löschung vorgesehen", (), automated=False,
                     open_point="Frist festlegen, sobald für die Ereignishistorie und die Backups eine "
                                "Höchstdauer feststeht."),
        ("T-ERASURE", "T-RESTORE"), pseudonymous=True,
        places=tuple(Place("retention", "erasures", c) for c in ("request_id", "reason", "erased_at",
                                                                  "trigger_event_id", "had_data", "scope",
                                                                  "delivery_hold_until"))),
    RetentionEntry(
        "E-EVENTS", "Ereignisdaten (pseudonym)", "VT-07", "Vorgangsdaten (pseudonym)",
        ("Kennungen", "Zeitpunkte", "Dauer", "Beträge", "Technikerkürzel", "Status"), (CALLERS, STAFF),
        "Vollständige, prüfbare Historie aller Vorgänge", (ART6F_OPS, ART6C_TAX), ("intern: Betrieb/Büro",),
        DeletionRule("LK 0.2", "Veröffentlichung im Ereignisstrom (Outbox); eigene Sitzungsereignisse: wie die "
                     "Ereignishistorie", "Outbox: unverzüglich nach Veröffentlichung; Ereignishistorie: siehe LK 9.6",
                     "Outbox-Zeilen werden nach bestätigter Veröffentlichung gelöscht",
                     ("shared/platform/src/fw_platform/outbox.py",), automated=False,
                     open_point="Der Ereignisstrom FERNWARTUNG und session.session_events haben keine "
                                "Löschfrist (siehe LK 9.6)."),
        ("T-PSEUDO-STREAM", "T-APPEND-ONLY", "T-NO-CONTENT"), pseudonymous=True,
        places=(*_everywhere("outbox", "payload", _OUTBOX_SERVICES), Place("session", "session_events", "payload")),
        other_places=(OtherPlace("Ereignisstrom", "NATS JetStream, Stream FERNWARTUNG (Subjects fw.>)",
                                 "Dateispeicher von nats-server; nur pseudonyme Kennungen"),)),
    RetentionEntry(
        "P-REQUEST", "Vorgangskennung (request_id)", "VT-07", "Pseudonyme Kennung", ("UUID der Supportanfrage",),
        (CALLERS,), "Zuordnung aller Schritte eines Vorgangs ohne personenbezogene Daten", (ART6B, ART6F_OPS),
        (INTERNAL_TECH, INTERNAL_OFFICE), _PSEUDONYM_RULE, ("T-PSEUDO-STREAM",), column_names=frozenset({"request_id"}),
        pseudonymous=True),
    RetentionEntry(
        "P-SESSION", "Sitzungskennung (session_id)", "VT-07", "Pseudonyme Kennung", ("UUID der Sitzung",),
        (CALLERS,), "Zuordnung von Sitzung, Abrechnung und Auswertung", (ART6B, ART6F_OPS),
        (INTERNAL_TECH, INTERNAL_OFFICE), _PSEUDONYM_RULE, ("T-PSEUDO-STREAM",), column_names=frozenset({"session_id"}),
        pseudonymous=True),
    RetentionEntry(
        "P-TICKET", "Ticketnummer", "VT-01", "Pseudonyme Kennung", ("zufälliger Kurzcode, am Telefon genannt",),
        (CALLERS,), "Auffinden der Anfrage im Gespräch", (ART6B,), (INTERNAL_TECH,), _PSEUDONYM_RULE,
        ("T-PSEUDO-STREAM",), column_names=frozenset({"ticket"}), pseudonymous=True),
    RetentionEntry(
        "P-TECHNICIAN", "Kürzel von Beschäftigten", "VT-02", "Beschäftigtendaten (pseudonym)",
        ("Kürzel der Technikerin/des Technikers, z. B. tech-07",
         "Kürzel der/des Beschäftigten, die/der die Löschung eines Kundenkontos ausgelöst hat",
         ("Kürzel der/des Beschäftigten im Büro, die/der eine Rechnung storniert oder eine korrigierte Rechnung "
          "ausgestellt hat (nur in der Abrechnung, nicht in den Ereignissen)"),
         "Kürzel der Technikerin/des Technikers, die/der die Notiz „Ausgeführte Arbeiten“ geschrieben hat"), (STAFF,),
        "Nachvollziehbarkeit, wer eine Sitzung geführt, eine Erklärung aufgenommen, die Löschung eines "
        "Kundenkontos ausgelöst, eine Rechnung storniert oder korrigiert oder eine Notiz geschrieben hat "
        "(Art. 5 Abs. 2 DSGVO; GoBD: Korrekturen sind nachvollziehbar)", (ART88,),
        (INTERNAL_OFFICE,), _PSEUDONYM_RULE, ("T-PSEUDO-STREAM",), column_names=frozenset({"technician"}),
        places=(Place("billing", "customer_accounts", "closed_by"), Place("billing", "work_notes", "written_by"),
                Place("billing", "cancellations", "acted_by"), Place("billing", "invoices", "acted_by")),
        pseudonymous=True,
        notes=("Die Zuordnung Kürzel → Person führt die Personalverwaltung außerhalb dieses Systems.",)),
    RetentionEntry(
        "P-CUSTOMER-NUMBER", "Kundennummer", "VT-05", "Pseudonyme Kennung", ("K + Ziffern",), (CUSTOMERS,),
        "Zuordnung von Rechnungen zum Kundenkonto", (ART6B,), (INTERNAL_OFFICE,), _PSEUDONYM_RULE,
        ("T-PSEUDO-STREAM",), column_names=frozenset({"customer_number"}), pseudonymous=True),
    RetentionEntry(
        "P-DOCUMENT-NUMBER", "Rechnungs- und Stornonummer", "VT-03", "Pseudonyme Kennung",
        ("fortlaufende Nummer der Rechnung bzw. Stornorechnung",), (CALLERS,),
        "Eindeutige Bezeichnung der Rechnung (§ 14 Abs. 4 Nr. 4 UStG)", (ART6C_TAX,), (INTERNAL_OFFICE, AUDITOR),
        _PSEUDONYM_RULE, ("T-PSEUDO-STREAM",),
        column_names=frozenset({"invoice_number", "document_number", "cancellation_number"}),
        places=(Place("billing", "invoices", "number"), Place("billing", "cancellations", "number")),
        pseudonymous=True),
    RetentionEntry(
        "E-LOGS", "Betriebsprotokolle", "VT-07", "Protokolldaten (pseudonym)",
        ("Kennungen (Vorgang, Sitzung, Ticket, Rechnung, Kunde)", "Fehlertypen", "Zähler"), (CALLERS,),
        "Betrieb und Fehlersuche", (ART6F_OPS,), ("intern: Betrieb",),
        DeletionRule("LK 9.6", "Schreiben des Protokolleintrags", "[30 Tage]", "Rotation durch den Betrieb",
                     (), automated=False, open_point="Die Rotation der Protokolle ist im Betrieb festzulegen "
                                                     "(T-ORG-LOGS)."),
        ("T-NO-PII-OPS", "T-ORG-LOGS"), pseudonymous=True,
        other_places=(OtherPlace("Protokolldateien", "Standardfehlerausgabe jedes Dienstes (JSON-Zeilen)",
                                 "nur freigegebene Felder (fw_platform.logs.SAFE_KEYS)"),)),
    RetentionEntry(
        "E-WEB-USERS", "Benutzerkonten der internen Seiten", "VT-08", "Beschäftigtendaten",
        ("Benutzername", "Rolle", "Passwort-Hash (argon2id)",
         "offene Anmeldungen: Benutzername, Ablaufzeit, SHA-256 der Anmeldekennung"), (STAFF,),
        "Anmeldung und Rollen; Abmelden beendet die Anmeldung serverseitig", (ART88,),
        ("intern: Administration",),
        DeletionRule("LK 0.7", "Ausscheiden der/des Beschäftigten", "unverzüglich", "Entfernen aus der "
                     "Benutzerdatei durch die Administration", (), automated=False,
                     open_point="Entfernen beim Ausscheiden ist ein manueller Schritt der Administration."),
        ("T-ORG-NETWORK",),
        other_places=(OtherPlace("Datei", "Benutzerdatei der Weboberfläche (TOML, Dateirechte 0600)",
                                 "services/web"),
                      OtherPlace("Datei", "Anmeldungen der Weboberfläche (JSON, Dateirechte 0600; ein Eintrag "
                                          "je offener Anmeldung, gelöscht beim Abmelden, abgelaufene spätestens "
                                          "beim nächsten Schreiben)", "services/web"))),
)

ACTIVITIES_BY_KEY = {a.key: a for a in ACTIVITIES}
ENTRIES_BY_KEY = {e.key: e for e in ENTRIES}
