"""Technical and organisational measures (Art. 32 GDPR) and the deletion classes (DIN 66398 style).

Measures with ``in_system=True`` are carried out by this code base and name their evidence
(modules, tests). The others are the office's organisational duties: the documents show them as
placeholders to be confirmed, never as facts.
"""

from __future__ import annotations

from fw_privacy.model import Loeschklasse, Tom

TOMS: tuple[Tom, ...] = (
    Tom("T-NO-CONTENT", "Keine Speicherung von Sitzungsinhalten",
        "Zu einer Sitzung werden nur Beginn, Ende, Dauer, das Technikerkürzel und ob eine Stammkunden-"
        "Erklärung vorliegt gespeichert. Kein Ereignis und keine Tabelle hat ein Feld für Bildschirm-, "
        "Tastatur- oder Dateiinhalte.", "Datenminimierung (Art. 5 Abs. 1 lit. c), Vertraulichkeit",
        ("shared/contracts/src/fw_contracts/events.py", "shared/contracts/tests/test_contracts.py")),
    Tom("T-PSEUDO-STREAM", "Nur pseudonyme Kennungen in der Ereignishistorie",
        "Ereignisse tragen Vorgangs-, Sitzungs-, Rechnungs- und Kundennummern, nie Namen, Firmen, Telefon, "
        "Anschrift oder E-Mail; ein Vertragstest lehnt Ereignisfelder ab, die solche Daten aufnehmen könnten.",
        "Pseudonymisierung (Art. 32 Abs. 1 lit. a), Vertraulichkeit",
        ("shared/contracts/tests/test_contracts.py::test_no_event_field_can_hold_personal_data",
         "tests/privacy/test_raw_storage_scan.py")),
    Tom("T-VAULT-ENC", "Verschlüsselter Datentresor",
        "Anfragedaten und Stammkunden-Erklärung liegen nur als AES-256-GCM-Chiffrat vor, mit einem "
        "zufälligen Schlüssel je Anfrage; dieser ist mit einem Hauptschlüssel verschlüsselt, der nicht in "
        "der Datenbank und nicht im Datenbank-Backup liegt. Die Chiffrate sind an ihre Vorgangskennung "
        "gebunden (Associated Data).", "Verschlüsselung (Art. 32 Abs. 1 lit. a), Vertraulichkeit, Integrität",
        ("services/retention/src/fw_retention/adapters/crypto.py",
         "services/retention/tests/integration/test_vault_nats.py::test_ciphertext_holds_no_plaintext")),
    Tom("T-BILLING-ENC", "Verschlüsselung in der Abrechnung",
        "Rechnungsempfänger, Rechnungsarchiv, Kundenkonten und Versandadressen liegen nur verschlüsselt vor "
        "(AES-256-GCM, ein Datenschlüssel je Zweck und Kalenderjahr, mit einem Hauptschlüssel verschlüsselt).",
        "Verschlüsselung (Art. 32 Abs. 1 lit. a), Vertraulichkeit",
        ("services/billing/src/fw_billing/adapters/keys.py",
         "services/billing/src/fw_billing/migrations/002_documents_archive.sql")),
    Tom("T-DB-ROLES", "Getrennte Datenbankrollen",
        "Jeder Dienst hat eine eigene Datenbankrolle und ein eigenes Schema ohne Rechte auf die Schemata "
        "anderer Dienste; Daten wechseln den Dienst nur als Ereignis oder über den Datentresor.",
        "Vertraulichkeit, Zweckbindung (Art. 5 Abs. 1 lit. b)",
        ("tools/devenv/src/fw_devenv/provision.py",)),
    Tom("T-NATS-PERMS", "Berechtigungen im Nachrichtensystem",
        "Jeder Dienst meldet sich mit eigenem Konto an, darf nur seine eigenen Ereignisse senden und nur "
        "die benötigten Datentresor-Anfragen stellen; nur der Datentresor darf diese entgegennehmen. "
        "Löschen oder Leeren der Ereignishistorie ist allen außer dem Administrator verboten.",
        "Vertraulichkeit, Integrität",
        ("shared/contracts/src/fw_contracts/nats_permissions.py", "tests/security/")),
    Tom("T-ACCESS-LOG", "Zweckgebundene Zugriffe mit Protokoll",
        "Jeder Lesezugriff auf den Datentresor nennt seinen Zweck (Warteschlange, Abrechnung, Kundenkonto, "
        "Auskunft) und wird ohne Inhalt protokolliert; ebenso das Nachtragen einer Rechnungsanschrift.",
        "Nachweisbarkeit (Art. 5 Abs. 2), Zweckbindung",
        ("services/retention/src/fw_retention/application/vault.py",)),
    Tom("T-ERASURE", "Automatische Löschung mit Löschvermerk",
        "Der Datentresor löscht Daten und Schlüssel beim Rechnungsausgang, bei einer Sitzung ohne "
        "Abrechnung, beim Zurückziehen und nach Fristablauf; ein dauerhafter Löschvermerk verhindert jede "
        "spätere Speicherung und jedes Lesen. Wartet die Abrechnung auf eine fehlende Rechnungsanschrift "
        "oder konnte die Rechnung nicht erstellt werden (gesperrte Abrechnung mit Grund), gilt statt der 14 Tage eine begrenzte Abrechnungsfrist ab der ersten Sperre; danach wird ebenso "
        "gelöscht und die Abrechnung schließt die Sitzung als nicht abgerechnet (verlorene Forderung). "
        "Die Löschung wird als Ereignis ohne personenbezogene Daten festgehalten; das Prüfwerkzeug "
        "prüft beide Fristen.", "Speicherbegrenzung (Art. 5 Abs. 1 lit. e), Art. 17",
        ("services/retention/src/fw_retention/application/erasure.py",
         "services/retention/tests/integration/test_erasure_stream.py",
         "tests/e2e/test_billing_hold.py")),
    Tom("T-RESTORE", "Erneute Löschung nach Wiederherstellung",
        "Nach dem Einspielen eines Datenbank-Backups werden die Löschvermerke aus der Ereignishistorie "
        "ergänzt und alle gelöschten Anfragen erneut gelöscht, bevor der Datentresor Anfragen annimmt; "
        "ebenso löscht billing bei jedem Start jedes Kundenkonto erneut, dessen Löschung in der "
        "Ereignishistorie steht (CustomerAccountErased), bevor seine Schnittstelle antwortet.",
        "Speicherbegrenzung, rasche Wiederherstellbarkeit (Art. 32 Abs. 1 lit. c)",
        ("docs/privacy/restore.md", "services/retention/src/fw_retention/application/restore.py",
         "tests/privacy/test_restore_reapply.py", "services/billing/src/fw_billing/application/customers.py",
         "services/billing/tests/integration/test_billing_customer_erasure.py")),
    Tom("T-NO-PII-OPS", "Keine personenbezogenen Daten in Protokollen und Fehlern",
        "Protokolle schreiben nur freigegebene Felder (Kennungen, Zähler, Fehlertypen); Fehlermeldungen "
        "wiederholen nie Eingabewerte; zurückgestellte Nachrichten speichern nur Ort und Grund; Kennzahlen "
        "haben nur feste Bezeichnungen.", "Vertraulichkeit, Datenminimierung",
        ("shared/platform/src/fw_platform/logs.py", "shared/platform/src/fw_platform/http.py",
         "tests/privacy/test_no_pii_elsewhere.py")),
    Tom("T-APPEND-ONLY", "Unveränderliche Ereignishistorie, Prüfwerkzeug",
        "Die Ereignishistorie verweigert Löschen und Leeren; das Prüfwerkzeug rechnet sie nach und "
        "versiegelt sie mit signierten Prüfpunkten.", "Integrität, Nachweisbarkeit",
        ("tools/audit/",)),
    Tom("T-ARCHIVE-GUARD", "Gesperrtes Rechnungsarchiv",
        "Archivierte Rechnungen und Empfängerangaben können nicht geändert und erst nach Ablauf der "
        "Aufbewahrungsfrist gelöscht werden; die Datenbank prüft die Frist selbst.",
        "Integrität (GoBD), Speicherbegrenzung",
        ("services/billing/src/fw_billing/migrations/002_documents_archive.sql",
         "services/billing/src/fw_billing/application/archive.py")),
    Tom("T-KLEINBETRAG", "Kleinbetragsrechnung ohne Empfängerdaten",
        "Rechnungen bis 250 EUR brutto werden nach § 33 UStDV ohne Angaben zum Empfänger ausgestellt; "
        "für die meisten Anrufer bleibt nach der Rechnung nichts Personenbezogenes.",
        "Datenminimierung", ("services/billing/src/fw_billing/domain/invoicing.py",)),
    # ------------------------------------------------------------ organisational (office)
    Tom("T-ORG-NETWORK", "Betrieb nur im internen Netz bzw. hinter Anmeldung",
        "Die HTTP-Schnittstellen der Dienste prüfen selbst keine Anmeldung; sie sind nur im internen Netz "
        "bzw. hinter der Anmeldung der Weboberfläche oder eines Reverse-Proxys zu betreiben.",
        "Vertraulichkeit (Zugangskontrolle)", in_system=False),
    Tom("T-ORG-CONFIDENTIALITY", "Verpflichtung auf Vertraulichkeit",
        "Beschäftigte sind auf Vertraulichkeit verpflichtet, bei Kunden mit Berufsgeheimnis zusätzlich "
        "nach § 203 Abs. 4 StGB belehrt; jährliche Schulung.", "Vertraulichkeit", in_system=False),
    Tom("T-ORG-REMOTE-TOOL", "Einstellungen der Fernwartungssoftware",
        "Transportverschlüsselung, Sitzung nur nach Start und Zustimmung durch den Kunden, keine "
        "Sitzungsaufzeichnung; Konten der Technikerinnen und Techniker mit Zwei-Faktor-Anmeldung.",
        "Vertraulichkeit", in_system=False),
    Tom("T-ORG-BACKUP", "Datensicherung und Schlüsselverwahrung",
        "Regelmäßige, verschlüsselte Sicherung; Wiederherstellung regelmäßig geprüft und stets mit "
        "erneuter Löschung; Hauptschlüssel getrennt vom Backup verwahrt; Sicherungen nach [Frist] vernichtet.",
        "Verfügbarkeit, Belastbarkeit (Art. 32 Abs. 1 lit. b, c)", in_system=False),
    Tom("T-ORG-LOGS", "Aufbewahrung der Betriebsprotokolle",
        "Betriebsprotokolle (ohne personenbezogene Inhalte, mit pseudonymen Kennungen) werden nach "
        "[30 Tagen] rotiert und gelöscht.", "Speicherbegrenzung", in_system=False),
    Tom("T-ORG-ACCOUNTS", "Löschung von Kundenkonten auslösen",
        "Das Büro löst die Löschung eines Kundenkontos unverzüglich aus, wenn der Stammkunde sie verlangt "
        "(spätestens innerhalb eines Monats, Art. 12 Abs. 3 DSGVO) oder die Geschäftsbeziehung endet, und "
        "prüft [jährlich] Kundenkonten ohne Rechnung seit [3 Jahren] auf ein Ende der Geschäftsbeziehung. "
        "Die Löschung selbst führt das System aus (billing, Seite „Kundenkonto“).",
        "Speicherbegrenzung (Art. 5 Abs. 1 lit. e), Art. 17", in_system=False),
    Tom("T-ORG-REVIEW", "Regelmäßige Überprüfung",
        "Überprüfung, Bewertung und Evaluierung der Wirksamkeit der Maßnahmen [jährlich]; die "
        "automatischen Tests dieses Systems (tests/privacy) sind Teil davon.",
        "Art. 32 Abs. 1 lit. d", in_system=False),
)

TOMS_BY_KEY = {t.key: t for t in TOMS}

#: Deletion periods (rows) and their start events (columns), as DIN 66398 suggests; a deletion
#: class is the pair. Only the classes used by the map are listed.
PERIODS = {
    "0": "unverzüglich (automatisch, Sekunden bis Minuten)",
    "1": "14 Tage (einstellbar: FW_RETENTION_ABANDON_AFTER_DAYS)",
    "2": "30 Tage (einstellbar: FW_BILLING_DELIVERY_FAILED_KEEP_DAYS)",
    "3": "3 Jahre",
    "4": "8 Jahre",
    "5": "90 Tage (einstellbar: FW_RETENTION_BILLING_HOLD_DAYS)",
    "9": "keine Regellöschfrist festgelegt (offener Punkt)",
}
STARTS = {
    "1": "Erhebung",
    "2": "Ende des Vorgangs (Rechnung ausgestellt, Sitzung ohne Abrechnung, Anfrage zurückgezogen)",
    "3": "Ende des Kalenderjahres der Entstehung",
    "4": "Löschverlangen des Stammkunden oder Ende der Geschäftsbeziehung (Kundenkonto)",
    "5": "Versand der E-Mail bzw. endgültiges Scheitern des Versands",
    "6": "Ende des Geltungszeitraums der Ereignishistorie",
    "7": "Ausscheiden der/des Beschäftigten",
    "8": "erste Sperre der Abrechnung, mangels Rechnungsanschrift oder weil die Rechnung nicht erstellt "
         "werden konnte (BillingBlocked)",
}


def _lk(period: str, start: str) -> Loeschklasse:
    return Loeschklasse(f"LK {period}.{start}", PERIODS[period], STARTS[start])


LOESCHKLASSEN: tuple[Loeschklasse, ...] = (
    _lk("0", "2"), _lk("1", "1"), _lk("5", "8"), _lk("0", "5"), _lk("2", "5"), _lk("3", "3"), _lk("4", "3"),
    _lk("0", "4"), _lk("9", "6"), _lk("0", "7"),
)
LOESCHKLASSEN_BY_KEY = {k.key: k for k in LOESCHKLASSEN}
