"""The value types that events and aggregate snapshots carry.

The store's transcoder must know each one; keeping the list here, next to the types,
means a new value object cannot be forgotten (a test round-trips every event).
"""

from domain.account import BillingDetails, Contact, ContactRole, User
from domain.catalog import Edition
from domain.cause import Provenance
from domain.invoice import InvoiceLine, InvoiceStatus
from domain.invoicing import Tranche
from domain.money import Money
from domain.period import BillingPeriod, DateRange
from domain.subscription import Line, Renewal, SubscriptionStatus

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
)

ENUM_TYPES: tuple[type, ...] = (
    Edition,
    BillingPeriod,
    ContactRole,
    SubscriptionStatus,
    InvoiceStatus,
)
