"""The value types that events and aggregate snapshots carry.

The store's transcoder must know each one; keeping the list here, next to the types,
means a new value object cannot be forgotten (a test round-trips every event).
"""

from domain.account import BillingDetails, Contact, ContactRole, User
from domain.bank_account import BankAccount
from domain.catalog import Edition
from domain.cause import Provenance
from domain.invoice import CreditNote, InvoiceLine, InvoiceStatus
from domain.invoicing import Tranche
from domain.money import Money
from domain.period import BillingPeriod, DateRange
from domain.postal_address import PostalAddress
from domain.seller import LatePaymentTerms, Seller
from domain.siren import Siren, Siret
from domain.subscription import Line, Renewal, SubscriptionStatus
from domain.support_case import Reply, SupportCaseStatus
from domain.vat_number import VatNumber

VALUE_TYPES: tuple[type, ...] = (
    Money,
    Provenance,
    BillingDetails,
    Contact,
    User,
    DateRange,
    Line,
    Renewal,
    Tranche,
    InvoiceLine,
    CreditNote,  # in an invoice's state alone: its snapshots carry it
    Reply,  # in a support case's state alone
    # the seller as an invoice records it at issue (configuration, not input)
    Seller,
    PostalAddress,
    LatePaymentTerms,
    VatNumber,
    Siren,
    Siret,
    BankAccount,
)

ENUM_TYPES: tuple[type, ...] = (
    Edition,
    BillingPeriod,
    ContactRole,
    SubscriptionStatus,
    InvoiceStatus,
    SupportCaseStatus,  # in a support case's state alone: its snapshots carry it
)
