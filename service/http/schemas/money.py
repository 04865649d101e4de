"""Money as every response shows it: a decimal string rounded to the currency's minor unit."""

from __future__ import annotations

from pydantic import BaseModel, Field

from domain.money import Money


class MoneyOut(BaseModel):
    amount: str = Field(examples=["1500.00"])
    currency: str = Field(examples=["USD"])

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=str(money.rounded().amount), currency=money.currency)
