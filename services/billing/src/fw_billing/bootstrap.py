"""The composition root: settings -> runtime, consumers, handlers, background worker, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from fw_billing.application.account_changes import AccountChange, change_customer_account
from fw_billing.application.archive import YearDestroyed, destroy_expired_archive
from fw_billing.application.cancellation import cancel_invoice
from fw_billing.application.correction import CorrectionRequest, correct_invoice
from fw_billing.application.customers import erase_customer_account, reapply_account_erasures
from fw_billing.application.delivery import (
    MailSender,
    RetryPolicy,
    deliver_next,
    mark_delivered_by_hand,
    purge_failed,
    retry,
)
from fw_billing.application.handlers import (
    on_billing_address_provided,
    on_customer_promoted,
    on_personal_data_erased,
    on_session_ended,
    on_support_request_created,
)
from fw_billing.application.ports import BillingDeps, PersonalDataSource
from fw_billing.application.reference import publish_reference_data
from fw_billing.entrypoints import http, http_accounts, http_documents, http_invoice_list, http_tariff
from fw_billing.entrypoints.worker import BackgroundWorker
from fw_billing.settings import Settings
from fw_contracts.events import (
    AccountErasureReason,
    BillingAddressProvided,
    CustomerAccountChanged,
    CustomerAccountErased,
    CustomerPromoted,
    InvoiceCancelled,
    InvoiceIssued,
    PersonalDataErased,
    SessionEnded,
    SupportRequestCreated,
)
from fw_contracts.tax_ids import LEITWEG_ID_INVALID, VAT_ID_INVALID
from fw_platform.http import install
from fw_platform.runtime import Runtime

SERVICE = "billing"
MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
_MESSAGES = {"vat_id_invalid": VAT_ID_INVALID, "buyer_reference_invalid": LEITWEG_ID_INVALID,
             "date_parsing": ("Ist kein gültiges Datum (JJJJ-MM-TT).", "Is not a valid date (YYYY-MM-DD)."),
             "date_from_datetime_parsing": ("Ist kein gültiges Datum (JJJJ-MM-TT).",
                                            "Is not a valid date (YYYY-MM-DD).")}


@dataclass(frozen=True)
class Billing:
    """The wired service: what the app and tests reach into."""

    runtime: Runtime
    deps: BillingDeps
    views: BillingViews
    exports: Exports
    keys: KeyRing
    settings: Settings
    sender: MailSender | None
    worker: BackgroundWorker

    async def cancel(self, number: str, reason_code: str) -> InvoiceCancelled:
        """Cancel an invoice in its own transaction (HTTP command)."""
        async with self.runtime.unit_of_work() as uow:
            return await cancel_invoice(number, reason_code, uow, deps=self.deps)

    async def correct(self, number: str, request: CorrectionRequest) -> InvoiceIssued:
        """Issue the corrected invoice for a cancelled one in its own transaction (HTTP command)."""
        async with self.runtime.unit_of_work() as uow:
            return await correct_invoice(number, request, uow, deps=self.deps)

    async def erase_customer(self, customer_number: str, reason: AccountErasureReason,
                             requested_by: str) -> CustomerAccountErased:
        """Close a customer account and erase its personal fields in its own transaction (HTTP)."""
        async with self.runtime.unit_of_work() as uow:
            return await erase_customer_account(customer_number, reason, requested_by, uow, deps=self.deps)

    async def change_customer(self, customer_number: str, change: AccountChange,
                              changed_by: str) -> CustomerAccountChanged:
        """Change an open account's e-mail or address in its own transaction (HTTP command)."""
        async with self.runtime.unit_of_work() as uow:
            return await change_customer_account(customer_number, change, changed_by, uow,
                                                 store=lambda conn: SqlAccountChanges(conn, self.keys))

    async def publish_reference_data(self) -> None:
        """Every known tariff version and the issuer details into the stream (once each)."""
        async with self.runtime.unit_of_work() as uow:
            await publish_reference_data(uow.repository(SqlReferenceLedger), uow,
                                         (self.deps.tariffs.get(v) for v in self.deps.tariffs.versions),
                                         self.deps.issuer)

    async def reapply_account_erasures(self) -> int:
        """Restore safety: erase again every account the stream says was erased (see
        :func:`fw_billing.application.customers.reapply_account_erasures`)."""
        return await reapply_account_erasures(self.runtime.unit_of_work,
                                              account_erasure_history(self.runtime.js), deps=self.deps)

    async def destroy_expired_archive(self, now: datetime) -> list[YearDestroyed]:
        """Destroy every archive year past its retention period at ``now`` (injectable clock)."""
        return await destroy_expired_archive(
            now, unit_of_work=self.runtime.unit_of_work, store=SqlArchiveStore,
            held=self.settings.archive_hold_years)

    async def deliver_next(self, now: datetime) -> bool:
        """Try the next due e-mail; False when none is due (or e-mail is off)."""
        if self.sender is None:
            return False
        s = self.settings
        policy = RetryPolicy(max_attempts=s.delivery_max_attempts, base_seconds=s.delivery_backoff_s,
                             cap_seconds=s.delivery_backoff_cap_s, retry_window=s.delivery_retry_window)
        async with self.runtime.unit_of_work() as uow:
            return await deliver_next(SqlDeliveryStore(uow.conn, self.keys), self.sender,
                                      self.deps.issuer, policy, now, addresses=self.deps.vault,
                                      emit=uow.emit)

    async def retry_delivery(self, delivery_id: int) -> None:
        """Office: send again (raises ``DeliveryRefused``)."""
        async with self.runtime.unit_of_work() as uow:
            await retry(SqlDeliveryStore(uow.conn, self.keys), delivery_id, uow.now)
        self.worker.notify()

    async def mark_delivered(self, delivery_id: int) -> None:
        """Office: handed over by hand (raises ``DeliveryRefused``)."""
        async with self.runtime.unit_of_work() as uow:
            await mark_delivered_by_hand(SqlDeliveryStore(uow.conn, self.keys), delivery_id, uow.now,
                                         emit=uow.emit)

    async def housekeeping(self, now: datetime) -> None:
        async with self.runtime.unit_of_work() as uow:
            await purge_failed(SqlDeliveryStore(uow.conn, self.keys), now,
                               timedelta(days=self.settings.delivery_failed_keep_days))
        await self.destroy_expired_archive(now)


def _sender(settings: Settings) -> MailSender | None:
    if not settings.smtp_enabled:
        return None
    return SmtpSender(
        host=settings.smtp_host, port=settings.smtp_port,
        sender=settings.smtp_from or settings.issuer().email, user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls, timeout=settings.smtp_timeout)


def build(settings: Settings, *, vault: PersonalDataSource | None = None,
          sender: MailSender | None = None) -> Billing:
    """Wire billing; ``vault`` and ``sender`` replace the NATS vault client and SMTP (tests)."""
    runtime = Runtime(SERVICE, settings, MIGRATIONS)
    keys = KeyRing(settings.archive_key_bytes())
    issuer = settings.issuer()
    mail = sender or _sender(settings)
    deps = BillingDeps(
        tariffs=load_catalog(settings.tariff_version, settings.tariff_dir),
        vault=vault or VaultPersonalData(lambda: runtime.nc, timeout=settings.vault_timeout),
        repository=partial(SqlBillingRepository, keys=keys),
        number_format=settings.invoice_number_format,
        issuer=issuer,
        renderer=PdfRenderer(),
        cancellation_format=settings.cancellation_number_format,
        email_enabled=mail is not None,
        reference=SqlReferenceLedger,
    )
    # SupportRequestCreated rides on the session_ended consumer: in stream order it comes first,
    # so the facts (B2B?, e-mail given?) are known when the session's end is billed.
    runtime.consume("session_ended", {SessionEnded: partial(on_session_ended, deps=deps),
                                      SupportRequestCreated: partial(on_support_request_created, deps=deps),
                                      BillingAddressProvided: partial(on_billing_address_provided, deps=deps)})
    runtime.consume("customer_promoted", {CustomerPromoted: partial(on_customer_promoted, deps=deps)})
    # Its own durable: created later than the others, it reads the whole history, so sessions
    # blocked for ever by an erasure before it existed are closed as well.
    runtime.consume("personal_data_erased", {PersonalDataErased: partial(on_personal_data_erased, deps=deps)})
    holder: dict[str, Billing] = {}
    worker = BackgroundWorker(
        deliver=lambda now: holder["b"].deliver_next(now),  # noqa: PLW0108 - holder["b"] is set below
        housekeeping=lambda now: holder["b"].housekeeping(now),  # noqa: PLW0108 - holder["b"] is set below
        poll=settings.delivery_poll_s, housekeeping_every=settings.archive_check_interval_s)
    billing = Billing(runtime=runtime, deps=deps, views=BillingViews(lambda: runtime.pool, keys),
                      exports=Exports(lambda: runtime.pool, keys, datev=settings.datev()), keys=keys, settings=settings,
                      sender=mail, worker=worker)
    holder["b"] = billing
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
    return billing


def create_app(settings: Settings | None = None, *, vault: PersonalDataSource | None = None,
               sender: MailSender | None = None) -> FastAPI:
    """The HTTP app; its lifespan starts and stops the runtime and the background worker."""
    billing = build(settings or Settings(), vault=vault, sender=sender)  # type: ignore[call-arg]

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await billing.runtime.start()
        try:
            # Before the API answers: a restored database must not show erased accounts. If the
            # stream cannot be read, billing does not start (nothing would guard restored rows).
            again = await billing.reapply_account_erasures()
        except BaseException:
            log.error("customer-account erasures could not be re-applied from the stream; not starting")
            await billing.runtime.stop()
            raise
        log.info("customer-account erasures re-applied at start", extra={"count": again})
        # The auditor re-prices from the stream alone: the tariffs and issuer go in at start.
        await billing.publish_reference_data()
        task = asyncio.create_task(billing.worker.run(), name="billing-worker")
        try:
            yield
        finally:
            billing.worker.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await billing.runtime.stop()

    app = FastAPI(title="fernwartung billing", version="1.1.0", lifespan=lifespan)
    app.state.billing = billing
    install(app, billing.runtime, custom_messages=_MESSAGES)
    commands = http_documents.Commands(cancel=billing.cancel, retry_delivery=billing.retry_delivery,
                                       mark_delivered=billing.mark_delivered, correct=billing.correct)
    # Documents first: "/invoices/{number}.pdf" must win over "/invoices/{number}".
    app.include_router(http_documents.router(billing.views, billing.exports, commands,
                                             download_ttl=billing.settings.download_ttl))
    # Before http: "/customers/search" must not be read as a customer number.
    app.include_router(http_accounts.router(billing.views, billing.change_customer))
    app.include_router(http.router(billing.views, billing.erase_customer))
    app.include_router(http_invoice_list.router(InvoiceListView(lambda: billing.runtime.pool)))
    app.include_router(http_tariff.router(billing.deps.tariffs))
    return app
