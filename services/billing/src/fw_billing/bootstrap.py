"""The composition root: settings -> runtime, consumers, use cases, background worker, HTTP app."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from fw_billing.adapters.account_changes import SqlAccountChanges
from fw_billing.adapters.deliveries import SqlArchiveStore, SqlDeliveryStore
from fw_billing.adapters.exports import Exports
from fw_billing.adapters.history import account_erasure_history
from fw_billing.adapters.invoice_list import InvoiceListView
from fw_billing.adapters.keys import KeyRing
from fw_billing.adapters.reference import SqlReferenceLedger
from fw_billing.adapters.rendering import PdfRenderer
from fw_billing.adapters.repository import SqlBillingRepository
from fw_billing.adapters.smtp import SmtpSender
from fw_billing.adapters.tariff_files import load_catalog
from fw_billing.adapters.vault import VaultPersonalData
from fw_billing.adapters.views import BillingViews
from fw_billing.adapters.work_notes import SqlWorkNotes
from fw_billing.application.consumers import consumers
from fw_billing.application.delivery import MailSender, RetryPolicy
from fw_billing.application.ports import BillingDeps, PersonalDataSource
from fw_billing.application.service import BillingService
from fw_billing.entrypoints import (
    http,
    http_accounts,
    http_documents,
    http_invoice_list,
    http_tariff,
    http_work_notes,
)
from fw_billing.entrypoints.worker import BackgroundWorker
from fw_billing.settings import Settings
from fw_contracts.tax_ids import LEITWEG_ID_INVALID, VAT_ID_INVALID
from fw_platform.app import App, lifespan, register
from fw_platform.http import install
from fw_platform.runtime import Runtime

SERVICE = "billing"
MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
_MESSAGES = {"vat_id_invalid": VAT_ID_INVALID, "buyer_reference_invalid": LEITWEG_ID_INVALID,
             "date_parsing": ("Ist kein gültiges Datum (JJJJ-MM-TT).", "Is not a valid date (YYYY-MM-DD)."),
             "date_from_datetime_parsing": ("Ist kein gültiges Datum (JJJJ-MM-TT).",
                                            "Is not a valid date (YYYY-MM-DD).")}


def _sender(settings: Settings) -> MailSender | None:
    if not settings.smtp_enabled:
        return None
    return SmtpSender(
        host=settings.smtp_host, port=settings.smtp_port,
        sender=settings.smtp_from or settings.issuer().email, user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls, timeout=settings.smtp_timeout)


def _report_configuration(settings: Settings, mail: MailSender | None) -> None:
    """What the office must know about its settings, once at build time."""
    issuer = settings.issuer()
    if issuer.example:
        log.warning("issuer settings are the shipped example data: invoices say BEISPIELDATEN")
    if mail is None:
        log.warning("e-mail delivery off (FW_BILLING_SMTP_HOST empty): the office sees 'SMTP ist nicht "
                    "eingerichtet'; customers fetch invoices with their download code")
    else:
        log.info("e-mail delivery on", extra={"kind": "smtp", "port": settings.smtp_port,
                                              "starttls": settings.smtp_starttls})
    if not issuer.can_issue_e_invoices:
        log.warning("no issuer VAT id, register or seller id: no EN 16931 e-invoices (BR-CO-26)")
    if issuer.phone is None:
        log.warning("no issuer phone: XRechnung needs the seller contact's phone (BR-DE-6)")


def build(settings: Settings, *, vault: PersonalDataSource | None = None,
          sender: MailSender | None = None) -> App[BillingService]:
    """Wire billing; ``vault`` and ``sender`` replace the NATS vault client and SMTP (tests)."""
    runtime = Runtime(SERVICE, settings, MIGRATIONS)
    keys = KeyRing(settings.archive_key_bytes())
    mail = sender or _sender(settings)
    deps = BillingDeps(
        tariffs=load_catalog(settings.tariff_version, settings.tariff_dir),
        vault=vault or VaultPersonalData(lambda: runtime.nc, timeout=settings.vault_timeout),
        repository=partial(SqlBillingRepository, keys=keys),
        number_format=settings.invoice_number_format,
        issuer=settings.issuer(),
        renderer=PdfRenderer(),
        cancellation_format=settings.cancellation_number_format,
        email_enabled=mail is not None,
        reference=SqlReferenceLedger,
    )
    register(runtime, consumers(deps))
    # Shared by the retry command (sets it) and the worker (wakes up): neither knows the other.
    delivery_due = asyncio.Event()
    service = BillingService(
        unit_of_work=runtime.unit_of_work, deps=deps,
        account_changes=partial(SqlAccountChanges, keys=keys), deliveries=partial(SqlDeliveryStore, keys=keys),
        archive=SqlArchiveStore, reference_ledger=SqlReferenceLedger,
        work_notes=partial(SqlWorkNotes, keys=keys),
        account_erasure_history=lambda: account_erasure_history(runtime.js), sender=mail,
        retry_policy=RetryPolicy(max_attempts=settings.delivery_max_attempts,
                                 base_seconds=settings.delivery_backoff_s,
                                 cap_seconds=settings.delivery_backoff_cap_s,
                                 retry_window=settings.delivery_retry_window),
        archive_hold_years=settings.archive_hold_years,
        delivery_failed_keep=timedelta(days=settings.delivery_failed_keep_days),
        work_note_orphan_keep=timedelta(days=settings.work_note_orphan_days),
        delivery_due=delivery_due.set)
    worker = BackgroundWorker(deliver=service.deliver_next, housekeeping=service.housekeeping,
                              poll=settings.delivery_poll_s, housekeeping_every=settings.archive_check_interval_s,
                              wake=delivery_due)
    _report_configuration(settings, mail)

    app = FastAPI(title="fernwartung billing", version="1.1.0", lifespan=lifespan)
    install(app, runtime, custom_messages=_MESSAGES)
    views = BillingViews(lambda: runtime.pool, keys)
    app.state.views = views  # the read side, beside App's service and runtime (tests compare documents)
    exports = Exports(lambda: runtime.pool, keys, datev=settings.datev())
    commands = http_documents.Commands(cancel=service.cancel, retry_delivery=service.retry_delivery,
                                       mark_delivered=service.mark_delivered, correct=service.correct)
    # Documents first: "/invoices/{number}.pdf" must win over "/invoices/{number}".
    app.include_router(http_documents.router(views, exports, commands, download_ttl=settings.download_ttl))
    # Before http: "/customers/search" must not be read as a customer number.
    app.include_router(http_accounts.router(views, service.change_customer))
    app.include_router(http.router(views, service.erase_customer))
    app.include_router(http_invoice_list.router(InvoiceListView(lambda: runtime.pool)))
    app.include_router(http_tariff.router(deps.tariffs))
    app.include_router(http_work_notes.router(service.write_work_note, service.read_work_note))
    # The auditor re-prices from the stream alone: the tariffs and issuer go in at start, after
    # the erasures are re-applied (before the API answers).
    return App(http=app, service=service, runtime=runtime,
               on_start=[service.reapply_at_start, service.publish_reference_data],
               background=[worker.run])
