"""Render the Art. 30 records, the deletion concept and the field inventory as Markdown and HTML.

Deterministic (no dates, sorted places) so that a test can compare the committed documents with
a fresh rendering. The places come from the migrations at render time (``schema_scan``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from markdown_it import MarkdownIt

from fw_privacy.classify import Classification, classify
from fw_privacy.measures import LOESCHKLASSEN, LOESCHKLASSEN_BY_KEY, TOMS, TOMS_BY_KEY
from fw_privacy.model import ProcessingActivity, RetentionEntry, Role
from fw_privacy.retention_map import ACTIVITIES, CONTROLLER, DPO, ENTRIES
from fw_privacy.schema_scan import Column, stored_columns

GENERATED = ("> Erzeugt aus `tools/privacy/src/fw_privacy/` (Aufbewahrungsplan im Code) mit "
             "`python -m fw_privacy render --out docs/privacy/`. Nicht von Hand bearbeiten; ein Test "
             "prüft, dass diese Fassung aktuell ist. Angaben in [eckigen Klammern] ergänzt das Büro. "
             "Keine Rechtsberatung: vor Verwendung durch die/den Datenschutzbeauftragte(n) prüfen lassen.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _places(entry: RetentionEntry, cls: Classification) -> list[str]:
    cols = [f"`{c.schema}.{c.schema}.{c.table}.{c.column}`" for c in cls.places_of(entry.key)]
    return cols + [f"{o.kind}: {o.where}" for o in entry.other_places]


def _entries(activity: str) -> list[RetentionEntry]:
    return [e for e in ENTRIES if e.activity == activity]


def _lk(key: str) -> str:
    lk = LOESCHKLASSEN_BY_KEY[key]
    return f"{lk.key} ({lk.period}, ab {lk.start})"


def _tom_list(keys: Iterable[str]) -> str:
    return ", ".join(f"{k} {TOMS_BY_KEY[k].title}" for k in keys)


# ------------------------------------------------------------------ Art. 30(1)
def _activity_section(a: ProcessingActivity, cls: Classification) -> list[str]:
    entries = _entries(a.key)
    out = [f"## {a.key} {a.name}", "", f"**Zweck (lit. b):** {a.purpose}", "",
           "**Rechtsgrundlage:** " + "; ".join(a.legal_basis), "",
           "**Kategorien betroffener Personen (lit. c):** " + "; ".join(a.data_subjects), "",
           "**Empfänger (lit. d):** " + "; ".join(a.recipients), "",
           f"**Übermittlung in Drittländer (lit. e):** {a.third_countries}", "",
           "**Kategorien personenbezogener Daten (lit. c) und Löschfristen (lit. f):**", ""]
    if entries:
        out += _table(("Daten", "Kategorie", "Löschfrist", "Orte"), (
            (f"{e.key} {e.title}: " + ", ".join(e.data_items), e.data_category
             + (" (verschlüsselt)" if e.encrypted_at_rest else "") + (" (pseudonym)" if e.pseudonymous and "pseudonym" not in e.data_category else ""),
             f"{_lk(e.deletion.loeschklasse)}: {e.deletion.deadline}", "; ".join(_places(e, cls)) or "—")
            for e in entries))
    else:
        out += ["Keine gespeicherten Daten.", ""]
    toms = sorted({t for e in entries for t in e.toms})
    out += ["**Technische und organisatorische Maßnahmen (lit. g):** " + (_tom_list(toms) or "siehe Abschnitt TOM")
            + "; außerdem die organisatorischen Maßnahmen im Abschnitt TOM.", ""]
    return out


def _toms_section() -> list[str]:
    out = ["## Technische und organisatorische Maßnahmen (Art. 32 DSGVO)", "",
           ("Teil A ist in diesem System umgesetzt (Nachweis: Quellcode und Tests); Teil B sind "
            "organisatorische Maßnahmen des Büros, die das System nicht belegen kann."), ""]
    for part, flag in (("A – im System umgesetzt", True), ("B – organisatorisch, vom Büro zu bestätigen", False)):
        out += [f"### Teil {part}", ""]
        out += _table(("Nr.", "Maßnahme", "Schutzziel", "Nachweis"), (
            (t.key, f"**{t.title}.** {t.description}", t.goal, ", ".join(f"`{e}`" for e in t.evidence) or "[Büro]")
            for t in TOMS if t.in_system is flag))
    return out


def controller_record(cls: Classification) -> str:
    """Art. 30(1): the record of the office as controller."""
    own = [a for a in ACTIVITIES if a.role is Role.CONTROLLER]
    out = ["# Verzeichnis von Verarbeitungstätigkeiten – Verantwortlicher (Art. 30 Abs. 1 DSGVO)", "", GENERATED, "",
           "## Angaben zum Verantwortlichen (lit. a)", "", f"- Verantwortlicher: {CONTROLLER}",
           f"- Datenschutzbeauftragte(r): {DPO}", "- Vertreter in der Union (Art. 27): entfällt [prüfen]", "",
           ("Die Fernwartung selbst (Sicht auf die Systeme der Kunden) ist Auftragsverarbeitung; sie steht im "
            "Verzeichnis als Auftragsverarbeiter (`art30-auftragsverarbeiter.md`)."), "",
           "## Übersicht", ""]
    out += _table(("Nr.", "Verarbeitungstätigkeit", "Dienste", "Rechtsgrundlage"), (
        (a.key, a.name, ", ".join(a.services), "; ".join(a.legal_basis)) for a in own))
    for a in own:
        out += _activity_section(a, cls)
    out += _toms_section()
    return "\n".join(out).rstrip() + "\n"


def processor_record() -> str:
    """Art. 30(2): the record of the office as processor (remote maintenance for customers)."""
    out = ["# Verzeichnis von Verarbeitungstätigkeiten – Auftragsverarbeiter (Art. 30 Abs. 2 DSGVO)", "",
           GENERATED, ""]
    for a in (a for a in ACTIVITIES if a.role is Role.PROCESSOR):
        out += [f"## {a.key} {a.name}", "",
                f"**Auftragsverarbeiter (lit. a):** {CONTROLLER}; Datenschutzbeauftragte(r): {DPO}", "",
                ("**Verantwortliche, in deren Auftrag verarbeitet wird (lit. a):** die Kunden, mit denen ein "
                 "Auftragsverarbeitungsvertrag besteht [Liste in der Vertragsverwaltung des Büros]. Jede "
                 "Anfrage nach dem AVV wird erfasst (retention `POST/GET /api/avv-requests`); die Vorlage liefert "
                 "retention unter `GET /api/avv`."), "",
                f"**Kategorien von Verarbeitungen (lit. b):** {a.purpose}", "",
                "**Betroffene Personen:** " + "; ".join(a.data_subjects), "",
                f"**Übermittlung in Drittländer (lit. c):** {a.third_countries}", "",
                ("**Gespeicherte Daten:** keine. Das System hat kein Feld für Bildschirm-, Tastatur- oder "
                 "Dateiinhalte (T-NO-CONTENT); von einer Sitzung hält es nur Beginn, Ende, Dauer und das "
                 "Technikerkürzel fest – das ist eigene Verarbeitung des Büros (VT-02)."), ""]
    out += _toms_section()
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------ deletion concept
def deletion_concept(cls: Classification) -> str:
    """The Löschkonzept: classes, rules per data kind, backups, crypto-shredding, open points."""
    out = ["# Löschkonzept", "", GENERATED, "",
           "## 1. Zweck und Geltungsbereich", "",
           ("Dieses Löschkonzept gilt für alle personenbezogenen Daten, die das System „fernwartung“ speichert "
            "(Dienste intake, session, billing, retention, reporting und die Ereignishistorie). Es folgt dem "
            "Aufbau der DIN 66398 (Löschklassen aus Löschfrist und Startzeitpunkt, Löschregeln je Datenart) "
            "und berücksichtigt ISO/IEC 27555 sowie BSI IT-Grundschutz CON.6. Grundlage sind Art. 5 Abs. 1 "
            "lit. e und Art. 17 DSGVO; Ausnahmen ergeben sich aus Art. 17 Abs. 3 lit. b DSGVO (gesetzliche "
            "Aufbewahrung, § 147 AO, § 14b UStG)."), "",
           "## 2. Löschklassen", "",
           "Eine Löschklasse „LK f.s“ verbindet eine Regellöschfrist f mit ihrem Startzeitpunkt s.", ""]
    out += _table(("Löschklasse", "Regellöschfrist", "Startzeitpunkt"), ((k.key, k.period, k.start) for k in LOESCHKLASSEN))
    out += ["## 3. Löschregeln", ""]
    out += _table(("Datenart", "Orte", "Löschklasse", "Auslöser", "Frist", "Umsetzung", "automatisch"), (
        (f"{e.key} {e.title}", "; ".join(_places(e, cls)) or "—", e.deletion.loeschklasse, e.deletion.trigger,
         e.deletion.deadline, e.deletion.mechanism + (" – " + ", ".join(f"`{p}`" for p in e.deletion.implemented_in)
                                                     if e.deletion.implemented_in else ""),
         "ja" if e.deletion.automated else "nein")
        for e in ENTRIES))
    out += [
        "## 4. Umsetzung", "",
        "### 4.1 Datentresor", "",
        ("Die Angaben aus der Anfrage liegen nur im Datentresor (retention), verschlüsselt mit einem Schlüssel "
         "je Anfrage. Sie werden gelöscht, sobald die Rechnung ausgestellt ist (`InvoiceIssued`), die Sitzung "
         "ohne Abrechnung endet (`SessionNotBilled`), die Anfrage zurückgezogen wird "
         "(`SupportRequestWithdrawn`) oder spätestens nach Ablauf der Frist für nicht bearbeitete Anfragen "
         "(Suchlauf im Dienst, ohne externen Zeitplaner). Gelöscht werden Daten, Erklärung und Schlüssel "
         "(DELETE); ein dauerhafter Löschvermerk verhindert jede spätere Speicherung. Das Ereignis "
         "`PersonalDataErased` nennt Grund und Zeitpunkt und enthält keine personenbezogenen Daten. Wartet "
         "die Abrechnung auf eine Rechnungsanschrift, bleibt die Frist bestehen: Wird sie nicht rechtzeitig "
         "nachgetragen, wird auch diese Anfrage gelöscht."), "",
        "### 4.2 Kleinbetragsrechnung und Rechnungskopie", "",
        ("Rechnungen bis 250 EUR brutto werden als Kleinbetragsrechnung ohne Empfängerangaben ausgestellt "
         "(§ 33 UStDV); nach der Löschung im Datentresor bleibt dann nichts Personenbezogenes. Rechnungen "
         "darüber enthalten Firma, Name und Anschrift; diese Kopie wird wie ausgestellt verschlüsselt "
         "aufbewahrt und mit ihrem Jahrgang nach 8 Jahren vernichtet (Schlüssel und Zeilen)."), "",
        "### 4.3 Datensicherungen und Wiederherstellung", "",
        ("Daten in Sicherungen werden nicht einzeln gelöscht; dies ist nur zulässig, wenn kumulativ gilt: "
         "Löschen in der Sicherung ist technisch nicht möglich oder unverhältnismäßig, die Sicherungen "
         "werden nach festgelegter Frist vernichtet [Frist: …], die Daten sind nur über eine Wiederherstellung "
         "erreichbar, nach jeder Wiederherstellung wird erneut gelöscht, und das Verfahren ist dokumentiert "
         "(BayLfD, 30. Tätigkeitsbericht 2021, Nr. 12.5). Die erneute Löschung ist umgesetzt und getestet: "
         "siehe `docs/privacy/restore.md` und `tests/privacy/test_restore_reapply.py`. Für Kundenkonten "
         "gilt dasselbe: billing löscht bei jedem Start jedes Konto erneut, dessen Löschung in der "
         "Ereignishistorie steht (`CustomerAccountErased`), bevor seine Schnittstelle antwortet "
         "(`services/billing/tests/integration/test_billing_customer_erasure.py`). Im Datentresor "
         "liegen die Daten in Sicherungen nur verschlüsselt vor; der Hauptschlüssel gehört nicht in die "
         "Datenbanksicherung."), "",
        "### 4.4 Löschen von Schlüsseln (Krypto-Löschung)", "",
        ("Keine deutsche oder europäische Aufsichtsbehörde erkennt das Vernichten eines Schlüssels allein "
         "als Löschung an. Das System löscht deshalb immer die Datenzeilen selbst; das Löschen des Schlüssels "
         "je Anfrage bzw. je Archivjahrgang ist eine zusätzliche Maßnahme (Art. 32), die Kopien unlesbar "
         "macht, die der Löschung entgangen sind (z. B. in Sicherungen). Personenbezogene Daten werden von "
         "vornherein nicht in die unveränderliche Ereignishistorie geschrieben."), "",
        "### 4.5 Physische Löschung in der Datenbank", "",
        ("PostgreSQL entfernt gelöschte Zeilen erst beim VACUUM physisch. Das automatische VACUUM genügt im "
         "Betrieb; der Test `tests/privacy/test_raw_storage_scan.py` führt `VACUUM FULL` aus und prüft "
         "danach den Datenbank-Dump, die Dateien des Ereignisstroms und alle Protokolle auf Testmarken."), "",
        "### 4.6 Kundenkonten von Stammkunden", "",
        ("Ein Kundenkonto entsteht nur auf ausdrücklichen Wunsch in der Sitzung und bleibt bis zu seiner "
         "Löschung bestehen. Verlangt der Stammkunde die Löschung (Art. 17 Abs. 1 DSGVO) oder endet die "
         "Geschäftsbeziehung, löst das Büro die Löschung aus (Seite „Kundenkonto“ bzw. "
         "`POST /api/customers/{Kundennummer}/erasure` mit Grund `customer_request` bzw. "
         "`relationship_ended` und dem Kürzel der/des Beschäftigten, nie mit Freitext). billing löscht in "
         "einer Transaktion Firma, Ansprechperson, Telefon, E-Mail, Anschrift, Wortlaut und Zeitpunkt der "
         "Erklärung (die Spalten werden geleert, nicht nur ein Schlüssel vernichtet: der Kundenschlüssel "
         "eines Jahres gilt für alle Konten dieses Jahres), schließt das Konto mit Zeitpunkt, Grund und "
         "Kürzel und meldet `CustomerAccountErased` (Kundennummer, Vorgangskennung, Grund, Zeitpunkt; "
         "keine personenbezogenen Daten). Die Kundennummer bleibt bestehen und wird nie neu vergeben, "
         "weil sie auf ausgestellten Rechnungen steht. Diese Rechnungen bleiben – bei Rechnungen nach "
         "§ 14 UStG mit dem Empfänger – unverändert im Rechnungsarchiv, bis ihr Jahrgang nach 8 Jahren "
         "vernichtet wird (Art. 17 Abs. 3 lit. b DSGVO, § 14b UStG, § 147 AO). Ein geschlossenes Konto "
         "ist endgültig: Die Datenbank lehnt jede Änderung und jedes Löschen der Zeile ab, und eine "
         "spätere Beförderung derselben Anfrage legt es nicht neu an und liest dafür nichts aus dem "
         "Datentresor. Eine zweite Löschung ändert nichts (Antwort 409 `already_erased`). Nach dem Einspielen "
         "einer Sicherung von billing werden gelöschte Konten beim Start erneut gelöscht (4.3)."), "",
        "## 5. Offene Punkte", ""]
    opens: dict[str, list[RetentionEntry]] = {}
    for e in ENTRIES:
        if e.deletion.open_point:
            opens.setdefault(e.deletion.open_point, []).append(e)
    out += [f"- **{', '.join(f'{e.key} {e.title}' for e in group)}:** {text}" for text, group in opens.items()] + [""]
    out += ["## 6. Nachweise", "",
            ("- `tests/privacy/test_retention_map.py`: jede Spalte jeder Migration ist hier eingeordnet; die "
             "Dokumente sind aktuell."),
            ("- `tests/privacy/test_raw_storage_scan.py`: nach allen Löschwegen keine Testmarke in Dump, "
             "Ereignisstrom-Dateien und Protokollen."),
            ("- `tests/privacy/test_restore_reapply.py`: Wiederherstellung eines Backups von vor der Löschung, "
             "danach erneute Löschung."),
            ("- `tests/privacy/test_no_pii_elsewhere.py`: keine Eingabewerte in Fehlerantworten, zurückgestellten "
             "Nachrichten, Kennzahlen, NATS-Subjects und -Headern."), "",
            "## 7. Verantwortlichkeiten", "",
            "- Umsetzung und Überwachung der automatischen Löschung: [Betrieb]",
            ("- Auslösen der Löschung von Kundenkonten (Löschverlangen, Ende der Geschäftsbeziehung; "
             "T-ORG-ACCOUNTS): [Büro]"),
            "- Manuelle Löschungen (offene Punkte): [Büro]",
            "- Überprüfung dieses Konzepts: [Datenschutzbeauftragte(r), jährlich]", ""]
    return "\n".join(out).rstrip() + "\n"


def field_inventory(cls: Classification) -> str:
    """Every stored column with its classification (the completeness check as a document)."""
    out = ["# Datenfelder: Einordnung jeder gespeicherten Spalte", "", GENERATED, "",
           ("Ort = `dienst.schema.tabelle.spalte`. Personenbezogen: mit Eintrag des Aufbewahrungsplans. "
            "Nicht personenbezogen: mit Begründung."), ""]
    cols: list[Column] = sorted([*cls.personal, *cls.not_personal])
    out += _table(("Ort", "personenbezogen", "Eintrag bzw. Begründung"), (
        (f"`{c.schema}.{c.schema}.{c.table}.{c.column}`", "ja" if c in cls.personal else "nein",
         f"{cls.personal[c].key} {cls.personal[c].title}" if c in cls.personal else cls.not_personal[c])
        for c in cols))
    return "\n".join(out).rstrip() + "\n"


_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto;line-height:1.45;padding:0 1em}}
table{{border-collapse:collapse;font-size:.9em}}td,th{{border:1px solid #999;padding:.3em .5em;vertical-align:top}}
blockquote{{border-left:4px solid #c60;margin-left:0;padding-left:1em;color:#520}}code{{font-size:.95em}}</style>
</head><body>
{body}</body></html>
"""


def to_html(markdown: str) -> str:
    """A standalone HTML page of a rendered document."""
    title = markdown.splitlines()[0].lstrip("# ").strip()
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return _PAGE.format(title=title.replace("<", "&lt;"), body=body)


#: Folder of the web pages' variant (``docs/privacy/web/``): the body only, without the note for
#: developers (file names, how to regenerate); the web service shows it inside its own layout.
WEB_FOLDER = "web"


def to_web_fragment(markdown: str) -> str:
    """The document's body for the web pages: no ``GENERATED`` note, no page around it."""
    text = markdown.replace(GENERATED + "\n\n", "", 1)
    return str(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


def documents(root: Path | None = None) -> dict[str, str]:
    """File name -> content of every rendered document (Markdown and HTML)."""
    cls = classify(stored_columns(root))
    md = {
        "art30-verantwortlicher.md": controller_record(cls),
        "art30-auftragsverarbeiter.md": processor_record(),
        "loeschkonzept.md": deletion_concept(cls),
        "datenfelder.md": field_inventory(cls),
    }
    out = dict(md)
    for name, text in md.items():
        out[name.removesuffix(".md") + ".html"] = to_html(text)
        out[f"{WEB_FOLDER}/" + name.removesuffix(".md") + ".html"] = to_web_fragment(text)
    return out


def write(out_dir: Path, root: Path | None = None) -> list[Path]:
    """Write every document into ``out_dir`` (other files there, e.g. restore.md, are left alone)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(documents(root).items()):
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
