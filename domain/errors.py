"""Every refusal the domain can make, each its own exception.

``code`` is a stable machine-readable name (it becomes the problem type over HTTP);
the message says what was refused and why, in words a customer can act on.
"""


class DomainError(Exception):
    """A command the ledger refuses. Nothing is written when one is raised."""

    code = "domain-error"


class InvalidValue(DomainError):
    """A value is malformed: empty, negative, out of range."""

    code = "invalid-value"


class QuantityNotPositive(InvalidValue):
    code = "quantity-not-positive"

    def __init__(self, quantity: int) -> None:
        super().__init__(f"quantity must be a positive whole number, got {quantity}")
        self.quantity = quantity


class AmountNotPositive(InvalidValue):
    code = "amount-not-positive"


class UnknownCurrency(InvalidValue):
    code = "unknown-currency"

    def __init__(self, currency: str) -> None:
        super().__init__(f"{currency!r} is not a supported ISO 4217 currency")
        self.currency = currency


class CurrencyMismatch(DomainError):
    code = "currency-mismatch"

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"currency mismatch: expected {expected}, got {got}")
        self.expected = expected
        self.got = got


class UnknownProduct(InvalidValue):
    """A code the catalog does not have, named in a request's body or query (422)."""

    code = "unknown-product"

    def __init__(self, product_code: str) -> None:
        super().__init__(f"no product or add-on {product_code!r} in the catalog")
        self.product_code = product_code


class ProductNotInEdition(DomainError):
    code = "product-not-in-edition"

    def __init__(self, product_code: str, edition: str) -> None:
        super().__init__(f"{product_code!r} is not sold in the {edition} edition")
        self.product_code = product_code
        self.edition = edition


class PriceNotAvailable(DomainError):
    code = "price-not-available"


class NotFound(DomainError):
    """What a request addresses (an account, a contract, a contact, a user...) does not exist."""

    code = "not-found"


class AlreadyExists(DomainError):
    """Something with that id or name exists already (a contact, a user, a product's line)."""

    code = "already-exists"


class AlreadyInThatState(DomainError):
    """The change asked for is already true: granting what is held, revoking what is not,
    changing to the current edition, cancelling what is cancelled."""

    code = "already-in-that-state"


class NotOnContract(DomainError):
    """A product the catalog has, but the contract does not (add the product instead)."""

    code = "not-on-contract"

    def __init__(self, product_code: str) -> None:
        super().__init__(f"{product_code!r} is not on this contract: add the product instead")
        self.product_code = product_code


class IdentityLicenseLimitReached(DomainError):
    code = "identity-license-limit-reached"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"all {limit} free identity licenses of this account are assigned; "
            "release one before assigning another"
        )
        self.limit = limit


class SeatsExhausted(DomainError):
    code = "seats-exhausted"

    def __init__(self, product_code: str, held: int) -> None:
        super().__init__(f"all {held} seats of {product_code!r} are assigned; add licenses first")
        self.product_code = product_code
        self.held = held


class PermissionRule(DomainError):
    """A rule about who holds which permission in an account."""

    code = "permission-rule"


class UpgradeNotHigher(DomainError):
    code = "upgrade-not-higher"

    def __init__(self, current: str, requested: str) -> None:
        super().__init__(
            f"an upgrade must be to a higher edition than {current}; {requested} is not"
        )


class ContractNotActive(DomainError):
    code = "contract-not-active"

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action}: the contract is {status}")
        self.status = status


class RenewalRule(DomainError):
    """Renewal refused: none scheduled, not yet due, or already scheduled."""

    code = "renewal-rule"


class DateOutsideTerm(DomainError):
    code = "date-outside-term"


class PeriodNotBegun(DomainError):
    """A billing period is invoiced from its first day on, never ahead (domain/invoicing.py)."""

    code = "period-not-begun"

    def __init__(self, start: str) -> None:
        super().__init__(f"the billing period from {start} has not begun: it is invoiced then")


class InvoiceNotOpen(DomainError):
    code = "invoice-not-open"

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action}: the invoice is {status}")
        self.status = status


class PaymentExceedsBalance(DomainError):
    code = "payment-exceeds-balance"


class CreditExceedsInvoice(DomainError):
    code = "credit-exceeds-invoice"


class SupportCaseClosed(DomainError):
    """A closed support case takes no reply and cannot be closed again."""

    code = "support-case-closed"


class BuyerStillInvoiced(DomainError):
    """A buyer identity is not erased while the account has contracts that will invoice it:
    their next invoices must name the buyer (ADR 0027)."""

    code = "buyer-still-invoiced"


class ReasonRequired(DomainError):
    code = "reason-required"

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} needs a reason")


class InvalidIdentifier(InvalidValue):
    """A VAT number, SIREN, SIRET, IBAN or BIC that is not one: wrong format or check digits."""

    code = "invalid-identifier"
