"""One simulated customer: a budget, a current account, optionally a card and loans, day by day.

The customer is a small budget model, not a bag of random events:

* **Income** arrives on a cadence (monthly on a payday moved to the Friday before a weekend,
  four-weekly, or irregular gig pay), occasionally late (employer delays).
* **Outgoings** are planned against it: rent, utilities and subscriptions by direct debit, a
  loan instalment, groceries, discretionary spending (part of it on the card), cash, and for
  some BNPL, lending apps and gambling; the rest is saved (a savings pot drawn on when the
  account runs low) or, for customers whose outgoings exceed their income, drains the account.
* **Stress** (at most one episode per customer: job loss, income shock, expense shock,
  over-indebtedness) changes income or outgoings; after a reaction delay the customer adapts:
  cuts discretionary spending, moves to cash, bridges with the card (minimum payments only),
  turns to lending apps. Whether a payment is missed is not drawn: a due amount the account
  cannot cover is missed, and days past due count from the oldest unpaid due date.
* **Noise**: card fraud bursts refunded days later, forgetful manual payers, late salaries,
  a summer holiday, December spending, healthy BNPL / lending-app / gambling habits,
  refunds that leave the card in credit.

Deterministic: everything is drawn from the customer's own generator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Any

from ._config import STRESS_KINDS, Scenario, SimulationConfig

__all__ = ["DAY_MS", "HOUR_MS", "CustomerTruth", "SimCustomer"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
NEVER = 10**9
EMPLOYERS = ("Northwind Logistics", "Contoso Retail", "Fabrikam Health", "City Council",
             "Tailspin Airlines", "Wide World Importers", "Adventure Works", "Litware Labs",
             "Proseware Care", "Blue Yonder Foods")
_SHOCK_MCC = ("8062", "7538", "1711", "8021")  # hospital, car repair, heating, dentist


@dataclass
class CustomerTruth:
    """What the simulator knows and the bank does not (for labels and evaluation)."""

    customer_id: str
    stress_kind: str | None = None
    stress_day: int | None = None
    recovers_day: int | None = None
    dpd_by_day: dict[int, int] = field(default_factory=dict)  # day -> max dpd (only > 0 kept)
    noise: tuple[str, ...] = ()  # noise episodes the customer had (fraud, holiday, ...)
    arm: str = "TREATMENT"  # the experiment arm (stream_app.policy.in_control_group)
    # with a treatment effect: whether the treated customer's first miss was cured (None: no
    # miss, the control arm, or no effect)
    cured: bool | None = None

    def first_day_at_dpd(self, threshold: int, after_day: int = -1) -> int | None:
        days = [d for d, dpd in self.dpd_by_day.items() if dpd >= threshold and d > after_day]
        return min(days) if days else None


def customer_seed(seed: int, index: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _pay_date(year: int, month: int, payday: int) -> dt.date:
    """The payday of a month, moved to the Friday before when it falls on a weekend."""
    date = dt.date(year, month, payday)
    while date.weekday() >= 5:
        date -= dt.timedelta(days=1)
    return date


@dataclass
class _Due:
    product: str  # "card", "loan" or "loan2"
    due_day: int
    amount: int  # still unpaid of this due item


@dataclass
class _Loan:
    key: str  # "loan" or "loan2"
    account: str
    instalment: int
    day: int  # day of the month the instalment notice is issued
    first_day: int = 0  # simulated day from which it exists


class SimCustomer:
    """Mutable simulation state of one customer (never leaves the simulate package)."""

    def __init__(self, index: int, config: SimulationConfig) -> None:
        rng = self.rng = random.Random(customer_seed(config.seed, index))
        sc = self.scenario = config.profile
        self.config = config
        self.id = f"CUST-{index:07d}"
        # the true treatment effect draws from its own generator: the customer's own stream
        # (and so everything before the first miss) is the same with or without it
        from stream_app.policy import in_control_group  # not at import: it needs the scoring

        experiment_id, fraction = config.experiment
        self._arm = "CONTROL" if in_control_group(self.id, experiment_id, fraction) \
            else "TREATMENT"
        self._treated = config.treatment_effect > 0 and self._arm == "TREATMENT"
        self._effect_rng = random.Random(f"treatment:{config.seed}:{index}")
        self._cured: bool | None = None
        self._cure_lag = 0
        self.account = f"CA-{index:07d}"
        self.card_account = f"CC-{index:07d}"
        self.seq = 0
        self.truth = CustomerTruth(self.id, arm=self._arm)
        self.epoch_day = config.start_ms // DAY_MS
        # --- income ---
        if rng.random() < sc.irregular_pay:
            self.pay_cycle = "irregular"
        else:
            self.pay_cycle = "four_weekly" if rng.random() < 0.16 else "monthly"
        self.salary = int(rng.lognormvariate(math.log(2600), 0.4) * 100)
        self.payday = rng.randint(1, 28)
        self.pay_offset = rng.randint(0, 27)
        self.benefits = int(self.salary * 0.15) if rng.random() < 0.12 else 0
        self.employed = True
        self.employer = rng.choice(EMPLOYERS)
        self.income_factor = 1.0
        self.late_pay_day = -1  # a salary delayed by the employer to this day
        # --- fixed outgoings ---
        self.rent = int(self.salary * rng.uniform(0.18, 0.36))
        self.rent_day = rng.randint(1, 5)
        self.utilities = [(rng.randint(5, 25), int(rng.uniform(40, 160) * 100))
                          for _ in range(rng.randint(2, 4))]
        self.subscriptions = [(rng.randint(1, 28), int(rng.uniform(8, 60) * 100))
                              for _ in range(rng.randint(1, 4))]
        # --- credit products ---
        self.has_card = rng.random() < 0.7
        self.card_limit = int(rng.choice((1000, 2000, 3000, 5000, 8000)) * 100)
        self.card_balance = int(self.card_limit * rng.uniform(0.0, 0.35)) if self.has_card else 0
        self.card_behaviour = rng.choices(("full", "partial", "minimum"), (0.5, 0.35, 0.15))[0]
        self.statement_day = rng.randint(1, 28)
        self.autopay = rng.random() < 0.6  # pays the card by direct debit; others by hand
        self.loans: list[_Loan] = []
        if rng.random() < 0.32:
            self.loans.append(_Loan("loan", f"LN-{index:07d}",
                                    int(self.salary * rng.uniform(0.04, 0.12)),
                                    rng.randint(1, 28)))
        # --- the budget: what is left after fixed outgoings is spent or saved ---
        self.savings_rate = min(0.25, max(-0.08, rng.gauss(0.06, 0.07)))
        income = self.salary + self.benefits
        fixed = (self.rent + sum(a for _, a in self.utilities)
                 + sum(a for _, a in self.subscriptions)
                 + sum(loan.instalment for loan in self.loans))
        variable = max(int(0.1 * income), int(income * (1 - self.savings_rate)) - fixed)
        self.grocery_p = rng.uniform(0.3, 0.6)
        self.grocery_ticket = variable * 0.35 / (30 * self.grocery_p)
        self.disc_rate = rng.uniform(0.6, 2.0)
        self.disc_ticket = variable * 0.55 / (30 * self.disc_rate)
        self.atm_p = rng.uniform(0.03, 0.12)
        self.atm_ticket = max(2000, int(variable * 0.1 / (30 * self.atm_p) / 1000) * 1000)
        self.card_share = rng.uniform(0.3, 0.7) if self.card_behaviour == "full" else 0.2
        self.card_budget = 0  # revolvers: card spending allowed this cycle
        self.monthly_fixed = fixed
        # --- the buffer: months of income on the account and in a savings pot ---
        buffer = min(8.0, max(0.02, rng.lognormvariate(math.log(sc.buffer_median_months),
                                                       sc.buffer_sigma)))
        self.savings = 0
        if rng.random() < sc.savings_share:
            on_account = rng.uniform(0.2, 0.5)
            self.savings = int(self.salary * buffer * (1 - on_account))
            buffer *= on_account
        # the run starts mid pay cycle: what is left of the last pay until the next payday
        start = dt.date(1970, 1, 1) + dt.timedelta(days=self.epoch_day)
        if self.pay_cycle == "monthly":
            to_payday = (self.payday - start.day) % 30
        elif self.pay_cycle == "four_weekly":
            to_payday = (-self.pay_offset) % 28
        else:
            to_payday = (-self.pay_offset) % 30
        self.balance = int(self.salary * (buffer + to_payday / 30))
        self.overdraft = int(self.salary * rng.uniform(0.1, 0.5)) if rng.random() < 0.45 else 0
        self.last_savings_draw = -NEVER
        # --- habits (healthy confounders) ---
        self.bnpl_user = rng.random() < sc.bnpl_user
        self.lending_user = rng.random() < sc.lending_user
        self.gambler = rng.random() < sc.gambler
        self.lends_when_short = self.lending_user
        self.last_borrow = -NEVER
        self.lending_debt = 0
        # --- delinquency bookkeeping ---
        self.dues: list[_Due] = []
        self.dpd: dict[str, int] = {}
        self.scheduled: list[tuple[int, str, int]] = []  # (day, product, amount) to pay
        self.forgot_until = -1  # a forgetful payer does not look at arrears before this day
        # --- noise episodes ---
        self.fraud_day = (rng.randint(10, max(11, config.days - 15))
                          if rng.random() < sc.fraud_share else -1)
        self.fraud_refunds: list[tuple[int, str, int]] = []  # (day, category, amount)
        self.holiday_day = self._holiday_day(rng.random() < sc.holiday_share)
        noise = []
        if self.fraud_day >= 0:
            noise.append("fraud_burst")
        if self.holiday_day >= 0:
            noise.append("holiday")
        self.noise = noise
        # --- latent stress ---
        self.stress_kind: str | None = None
        self.stress_day = NEVER
        self.recover_day = NEVER
        self.adapt_day = NEVER
        self.bridging = False
        self.spending_factor = 1.0
        self.benefit_day = NEVER  # job loss: benefits from this day, every 30 days
        if rng.random() < sc.stress_share and config.days > 75:
            self._draw_stress(rng, sc)

    def _holiday_day(self, takes_one: bool) -> int:
        if not takes_one:
            return -1
        start = dt.date(1970, 1, 1) + dt.timedelta(days=self.epoch_day)
        summer = [d for d in range(self.config.days)
                  if (start + dt.timedelta(days=d)).month in (7, 8)]
        return self.rng.choice(summer) if summer else -1

    def _draw_stress(self, rng: random.Random, sc: Scenario) -> None:
        kind = rng.choices(STRESS_KINDS, sc.kind_weights)[0]
        self.stress_kind = kind
        self.stress_day = rng.randint(30, max(31, self.config.days - 90))
        self.adapt_day = self.stress_day + rng.randint(*sc.reaction_days)
        recovers = rng.random() < sc.recovery_share[STRESS_KINDS.index(kind)]
        if kind == "expense_shock":
            # a one-off bill, with follow-up costs for up to three months
            self.recover_day = self.stress_day + 30 * rng.randint(0, 3) + 1
        elif recovers:
            self.recover_day = self.stress_day + rng.randint(30, 120)
        self.truth.stress_kind = kind
        self.truth.stress_day = self.stress_day
        self.truth.recovers_day = self.recover_day if self.recover_day < NEVER else None
        if kind == "job_loss":
            self.benefit_day = self.stress_day + rng.randint(21, 42)
        if kind == "over_indebtedness":  # those who over-borrow are the ones without a buffer
            self.balance //= 2
            self.savings //= 2
        if (self.has_card or kind == "over_indebtedness") and rng.random() < sc.credit_bridge:
            self.bridging = True
        if not self.lending_user and rng.random() < sc.lending_take_up:
            self.lends_when_short = True

    # --- event helpers ---------------------------------------------------------------------
    def _eid(self, tag: str) -> str:
        self.seq += 1
        return f"{tag}-{self.id[5:]}-{self.seq:06d}"

    def _tx(self, ts: int, amount: int, direction: str, channel: str, category: str,
            status: str = "POSTED", decline_reason: str | None = None,
            counterparty: str | None = None, mcc: str | None = None) -> dict[str, Any]:
        if status == "POSTED":
            self.balance += amount if direction == "CREDIT" else -amount
        return {
            "type": "transaction",
            "event_id": self._eid("tx"),
            "customer_id": self.id,
            "account_id": self.account,
            "occurred_at": ts,
            "amount_minor": amount,
            "currency": self.config.currency,
            "direction": direction,
            "channel": channel,
            "category": category,
            "merchant_category_code": mcc,
            "status": status,
            "decline_reason": decline_reason,
            "balance_after_minor": self.balance,
            "counterparty": counterparty,
        }

    def _payment(self, ts: int, product: str, account: str, kind: str,
                 **fields: Any) -> dict[str, Any]:
        event = {
            "type": "payment",
            "event_id": self._eid("pm"),
            "customer_id": self.id,
            "account_id": account,
            "occurred_at": ts,
            "product": product,
            "currency": self.config.currency,
            "kind": kind,
            "statement_balance_minor": None,
            "minimum_due_minor": None,
            "credit_limit_minor": None,
            "due_date": None,
            "amount_due_minor": None,
            "amount_minor": None,
            "failure_reason": None,
            "days_past_due": None,
        }
        event.update(fields)
        return event

    def _room(self) -> int:
        return self.balance + self.overdraft

    def _can_pay(self, amount: int) -> bool:
        return self.balance - amount >= -self.overdraft

    def _strained(self) -> bool:
        return self._room() < max(self.rent, self.monthly_fixed // 2)

    def _spend(self, out: list[dict[str, Any]], ts: int, amount: int, channel: str,
               category: str, mcc: str | None = None) -> bool:
        if amount <= 0:
            return False
        if self._can_pay(amount):
            out.append(self._tx(ts, amount, "DEBIT", channel, category, mcc=mcc))
            return True
        out.append(self._tx(ts, amount, "DEBIT", channel, category, status="DECLINED",
                            decline_reason="INSUFFICIENT_FUNDS", mcc=mcc))
        return False

    def _direct_debit(self, out: list[dict[str, Any]], ts: int, amount: int, category: str,
                      counterparty: str) -> bool:
        if self._can_pay(amount):
            out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", category,
                                counterparty=counterparty))
            return True
        out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", category, status="RETURNED",
                            decline_reason="INSUFFICIENT_FUNDS", counterparty=counterparty))
        return False

    def _card_spend(self, out: list[dict[str, Any]], ts: int, amount: int, category: str,
                    mcc: str) -> None:
        """Spend on the card when the plan says so and the limit allows, else on the account."""
        on_card = False
        if self.has_card:
            if self.card_behaviour == "full" and not self.bridging:
                on_card = self.rng.random() < self.card_share
            elif self.bridging and self.stressed:
                on_card = self.rng.random() < 0.85
            else:
                on_card = self.card_budget >= amount and self.rng.random() < 0.5
        if on_card and self.card_balance + amount <= self.card_limit:
            self.card_balance += amount
            self.card_budget -= amount
            return
        self._spend(out, ts, amount, "CARD", category, mcc=mcc)

    # --- one day ---------------------------------------------------------------------------
    @property
    def stressed(self) -> bool:
        return self._stressed

    def day(self, d: int, day_ms: int, date: dt.date) -> list[dict[str, Any]]:
        rng = self.rng
        sc = self.scenario
        out: list[dict[str, Any]] = []
        month_day = date.day
        stressed = self._stressed = self.stress_day <= d < self.recover_day
        kind = self.stress_kind if stressed else None
        if d == self.stress_day:
            self._onset(out, d, day_ms)
        if d == self.recover_day and self.stress_kind is not None:
            self._recover()
        adapted = stressed and d >= self.adapt_day

        paid_today = self._income(out, d, day_ms, date)
        self._benefits(out, d, day_ms, month_day)

        # fixed outgoings by direct debit
        if month_day == self.rent_day:
            self._direct_debit(out, day_ms + 7 * HOUR_MS, self.rent, "RENT", "Landlord")
        for util_day, amount in self.utilities:
            if month_day == util_day:
                self._direct_debit(out, day_ms + 7 * HOUR_MS + 1000, amount, "UTILITIES",
                                   "Utility Co")
        for sub_day, amount in self.subscriptions:
            if month_day == sub_day:
                self._direct_debit(out, day_ms + 7 * HOUR_MS + 2000, amount, "OTHER",
                                   "Subscription")

        # everyday spending
        factor = self.spending_factor
        if adapted and kind != "over_indebtedness":  # the over-indebted do not rein in
            factor *= 1 - self._cut
        if date.month == 12:
            factor *= sc.december_uplift
        if not stressed and self._room() < self.monthly_fixed * 0.3:
            factor *= 0.4  # a customer who sees the account run low holds back
        if rng.random() < self.grocery_p:
            amount = int(self.grocery_ticket * rng.uniform(0.4, 1.6) * (0.9 if adapted else 1))
            self._spend(out, day_ms + rng.randint(9, 20) * HOUR_MS, amount, "CARD",
                        "GROCERIES", mcc="5411")
        for _ in range(min(8, int(rng.expovariate(1.0) * self.disc_rate * factor + 0.5))):
            amount = int(rng.expovariate(1.0) * self.disc_ticket) + 100
            ts = day_ms + rng.randint(10, 22) * HOUR_MS + rng.randint(0, 3_599_999)
            self._card_spend(out, ts, amount, "DISCRETIONARY", "5812")
        atm_p = self.atm_p * (1.8 if adapted else 1.0)
        if rng.random() < atm_p:
            self._spend(out, day_ms + rng.randint(8, 21) * HOUR_MS,
                        int(self.atm_ticket * rng.choice((0.5, 1, 1, 1.5, 2))), "ATM",
                        "ATM_CASH", mcc="6011")
        bnpl_p = (0.04 if self.bnpl_user else 0.0) * (2.0 if kind == "over_indebtedness"
                                                      else 1.0)
        if adapted and self.bnpl_user:
            bnpl_p *= 1.5
        if rng.random() < bnpl_p:
            self._spend(out, day_ms + 13 * HOUR_MS, int(rng.uniform(20, 150) * 100),
                        "DIRECT_DEBIT", "BNPL")
        gamble_p = (0.05 if self.gambler else 0.0) * (2.0 if stressed else 1.0)
        if rng.random() < gamble_p:
            self._spend(out, day_ms + 22 * HOUR_MS, int(rng.uniform(10, 200) * 100), "CARD",
                        "GAMBLING", mcc="7995")
        if kind == "expense_shock" and d > self.stress_day and (d - self.stress_day) % 30 == 0:
            # follow-up costs (treatment, instalments to the garage) while the episode lasts
            self._spend(out, day_ms + 11 * HOUR_MS, int(self.salary * rng.uniform(0.1, 0.25)),
                        "CARD", "OTHER", mcc=_SHOCK_MCC[0])
        self._noise(out, d, day_ms)
        self._lending(out, d, day_ms, month_day)
        self._savings(out, d, day_ms, paid_today)

        # credit products: statements, instalments, payments on their due dates
        if self.has_card and month_day == self.statement_day:
            self._statement(out, d, day_ms)
        for loan in self.loans:
            if d >= loan.first_day and month_day == loan.day:
                due_day = d + 14
                out.append(self._payment(day_ms + 3 * HOUR_MS, "PERSONAL_LOAN", loan.account,
                                         "INSTALMENT_DUE", amount_due_minor=loan.instalment,
                                         due_date=self.epoch_day + due_day))
                self.dues.append(_Due(loan.key, due_day, loan.instalment))
                self.scheduled.append((due_day, loan.key, loan.instalment))
        self._pay_scheduled(out, d, day_ms)
        self._catch_up(out, d, day_ms, paid_today)
        self._arrears_run(out, d, day_ms)
        out.sort(key=lambda e: e["occurred_at"])
        return out

    _stressed = False
    _cut = 0.0

    # --- income --------------------------------------------------------------------------
    def _income(self, out: list[dict[str, Any]], d: int, day_ms: int, date: dt.date) -> bool:
        rng = self.rng
        if self.pay_cycle == "monthly":
            # paid on the payday, or on the Friday before when it falls on a weekend (which
            # can be in the month before)
            next_month = dt.date(date.year + date.month // 12, date.month % 12 + 1, 1)
            due = date in (_pay_date(date.year, date.month, self.payday),
                           _pay_date(next_month.year, next_month.month, self.payday))
        elif self.pay_cycle == "four_weekly":
            due = (d + self.pay_offset) % 28 == 0
        else:
            due = (d + self.pay_offset) % 30 == 0 or rng.random() < 0.01
        if due and rng.random() < self.scenario.late_salary:
            self.late_pay_day = d + rng.randint(1, 5)  # the employer pays late
            due = False
        if d == self.late_pay_day:
            due = True
        if not (due and self.employed):
            return False
        if self.pay_cycle == "irregular":
            factor = self.income_factor * rng.uniform(0.5, 1.5)
        else:
            factor = self.income_factor * rng.uniform(0.98, 1.02)
        hour = rng.randint(5, 9) if rng.random() > 0.05 else rng.randint(10, 20)
        out.append(self._tx(day_ms + hour * HOUR_MS, int(self.salary * factor), "CREDIT",
                            "TRANSFER", "SALARY", counterparty=self.employer))
        return True

    def _benefits(self, out: list[dict[str, Any]], d: int, day_ms: int, month_day: int) -> None:
        if self.benefits and month_day == 15:
            out.append(self._tx(day_ms + 8 * HOUR_MS, self.benefits, "CREDIT", "TRANSFER",
                                "BENEFITS", counterparty="Benefits Agency"))
        if not self.employed and d >= self.benefit_day and (d - self.benefit_day) % 30 == 0:
            out.append(self._tx(day_ms + 8 * HOUR_MS, int(self.salary * 0.3), "CREDIT",
                                "TRANSFER", "BENEFITS", counterparty="Benefits Agency"))

    # --- stress ----------------------------------------------------------------------------
    def _onset(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        rng = self.rng
        sc = self.scenario
        self._cut = rng.uniform(*sc.spending_cut)
        kind = self.stress_kind
        if kind == "job_loss":
            self.employed = False
            if rng.random() < sc.severance_share:
                out.append(self._tx(day_ms + 9 * HOUR_MS,
                                    int(self.salary * rng.uniform(1.0, 2.0)), "CREDIT",
                                    "TRANSFER", "SALARY", counterparty=self.employer))
        elif kind == "income_shock":
            self.income_factor = rng.uniform(0.35, 0.65)
        elif kind == "expense_shock":
            self._shock(out, day_ms, int(self.salary * rng.uniform(0.8, 3.0)))
        elif kind == "over_indebtedness":
            # spending creeps up on credit, then a new loan on top of everything else
            self.spending_factor = rng.uniform(1.4, 1.8)
            self.loans.append(_Loan("loan2", f"LN2-{self.id[5:]}",
                                    int(self.salary * rng.uniform(0.15, 0.3)),
                                    rng.randint(1, 28), d + rng.randint(15, 40)))
            self.monthly_fixed += self.loans[-1].instalment

    def _shock(self, out: list[dict[str, Any]], day_ms: int, amount: int) -> None:
        """A bill: from the account as far as it goes, the rest on the card, then dropped
        (family help)."""
        mcc = self.rng.choice(_SHOCK_MCC)
        from_account = min(amount, max(0, int(self._room() * 0.8)))
        if from_account:
            self._spend(out, day_ms + 11 * HOUR_MS, from_account, "CARD", "OTHER", mcc=mcc)
        rest = amount - from_account
        if rest and self.has_card:
            on_card = min(rest, max(0, self.card_limit - self.card_balance))
            self.card_balance += on_card

    def _recover(self) -> None:
        rng = self.rng
        kind = self.stress_kind
        if kind == "job_loss":
            self.employer = rng.choice([e for e in EMPLOYERS if e != self.employer])
            self.salary = int(self.salary * rng.uniform(0.85, 1.1))
            self.employed = True
        elif kind == "income_shock":
            self.income_factor = 1.0
        elif kind == "over_indebtedness":
            self.spending_factor = 0.9  # spending reined in; the new loan stays
        self.bridging = False

    # --- noise -----------------------------------------------------------------------------
    def _noise(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        rng = self.rng
        if d == self.fraud_day:  # a burst of card fraud on the account, refunded days later
            refund_day = d + rng.randint(3, 10)
            for _ in range(rng.randint(5, 12)):
                category = rng.choice(("DISCRETIONARY", "DISCRETIONARY", "GAMBLING"))
                amount = int(self.salary * rng.uniform(0.03, 0.1))
                ts = day_ms + rng.randint(0, 23) * HOUR_MS + rng.randint(0, 3_599_999)
                if self._spend(out, ts, amount, "CARD", category, mcc="5999"):
                    self.fraud_refunds.append((refund_day, category, amount))
        for refund in [r for r in self.fraud_refunds if r[0] == d]:
            self.fraud_refunds.remove(refund)
            out.append(self._tx(day_ms + 10 * HOUR_MS, refund[2], "CREDIT", "CARD", refund[1],
                                counterparty="Fraud refund"))
        if d == self.holiday_day:
            amount = int(self.salary * rng.uniform(0.3, 0.8))
            if self.has_card and self.card_balance + amount <= self.card_limit:
                self.card_balance += amount
            else:
                self._spend(out, day_ms + 12 * HOUR_MS, amount, "CARD", "DISCRETIONARY",
                            mcc="4722")
        if self.has_card and rng.random() < 0.01:  # a purchase returned to the card
            self.card_balance -= int(rng.uniform(20, 150) * 100)

    def _lending(self, out: list[dict[str, Any]], d: int, day_ms: int, month_day: int) -> None:
        rng = self.rng
        short = self._strained()
        borrow_p = 0.01 if self.lending_user else 0.0
        if self.lends_when_short and short:
            borrow_p = 0.12
        if d - self.last_borrow >= 10 and rng.random() < borrow_p:
            borrowed = int(rng.uniform(100, 600) * 100)
            self.lending_debt += int(borrowed * 1.25)
            self.last_borrow = d
            out.append(self._tx(day_ms + 12 * HOUR_MS, borrowed, "CREDIT", "TRANSFER",
                                "LENDING_APP", counterparty="QuickCash App"))
        if self.lending_debt and month_day in (1, 15):
            repay = min(self.lending_debt, int(self.lending_debt * 0.5) + 1)
            if self._direct_debit(out, day_ms + 6 * HOUR_MS, repay, "LENDING_APP",
                                  "QuickCash App"):
                self.lending_debt -= repay

    def _savings(self, out: list[dict[str, Any]], d: int, day_ms: int, paid_today: bool) -> None:
        if paid_today and self.savings_rate > 0 and not self._stressed \
                and self._room() > self.salary // 2:
            amount = int(self.salary * self.savings_rate)
            if amount > 0 and self._can_pay(amount):
                self.savings += amount
                out.append(self._tx(day_ms + 11 * HOUR_MS, amount, "DEBIT", "TRANSFER",
                                    "SAVINGS_TRANSFER", counterparty="Own savings"))
        if self.savings > 0 and self._strained() and d - self.last_savings_draw >= 7:
            amount = min(self.savings, max(self.monthly_fixed // 2, 5000))
            self.savings -= amount
            self.last_savings_draw = d
            out.append(self._tx(day_ms + 9 * HOUR_MS, amount, "CREDIT", "TRANSFER",
                                "SAVINGS_TRANSFER", counterparty="Own savings"))

    # --- credit products -------------------------------------------------------------------
    def _statement(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        rng = self.rng
        interest = int(max(0, self.card_balance) * 0.018)
        self.card_balance += interest
        balance = self.card_balance
        minimum = min(balance, max(2500, balance * 3 // 100)) if balance > 0 else 0
        due_day = d + 21
        out.append(self._payment(day_ms + 3 * HOUR_MS, "CREDIT_CARD", self.card_account,
                                 "STATEMENT_ISSUED", statement_balance_minor=balance,
                                 minimum_due_minor=minimum, credit_limit_minor=self.card_limit,
                                 due_date=self.epoch_day + due_day))
        if minimum <= 0:
            self.card_budget = int(self.disc_ticket * self.disc_rate * 30 * 0.2)
            return
        plan = self.card_behaviour
        if self.bridging and self._stressed:
            plan = "minimum"
        if plan == "full":
            amount = balance
        elif plan == "partial":
            amount = max(minimum, int(balance * rng.uniform(0.2, 0.6)))
        else:
            amount = minimum
        # pay what can be afforded (keeping the rent), never less than the minimum
        affordable = self._room() - self.rent
        if amount > minimum and amount > affordable:
            amount = max(minimum, affordable)
        # revolvers spend on the card about what they repay, less the interest
        self.card_budget = max(0, int((amount - interest) * rng.uniform(0.8, 1.2)))
        self.dues.append(_Due("card", due_day, minimum))
        pay_day = due_day
        if not self.autopay:
            if rng.random() < self.scenario.technical_miss:  # forgets: pays late
                late = (rng.randint(35, 50) if rng.random() < self.scenario.long_technical_share
                        else rng.randint(2, 20))
                pay_day = due_day + late
                self.forgot_until = pay_day
                if "technical_miss" not in self.noise:
                    self.noise.append("technical_miss")
            else:
                pay_day = due_day - rng.randint(0, 4)
        self.scheduled.append((pay_day, "card", amount))

    def _pay_scheduled(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        due_now = [s for s in self.scheduled if s[0] == d]
        if not due_now:
            return
        self.scheduled = [s for s in self.scheduled if s[0] != d]
        for _, product, amount in due_now:
            if product == "card":
                minimum_owed = sum(x.amount for x in self.dues if x.product == "card")
                if not self.autopay and self._stressed and self._strained() \
                        and self.rng.random() < 0.6:
                    continue  # a manual payer under strain keeps the cash for rent and food
                if not self._can_pay(amount) and self._can_pay(minimum_owed) and not self.autopay:
                    amount = minimum_owed  # pays what is owed at least, by hand
                if amount <= 0:
                    continue
                if not self._pay(out, day_ms + 6 * HOUR_MS, product, amount) and self.autopay \
                        and self.rng.random() < 0.6:
                    # the direct debit bounced; the customer pays the minimum by hand soon
                    self.scheduled.append((d + self.rng.randint(1, 3), "card_min", 0))
            elif product == "card_min":
                owed = sum(x.amount for x in self.dues if x.product == "card")
                if owed and self._can_pay(owed):
                    self._pay(out, day_ms + 12 * HOUR_MS, "card", owed)
            else:
                self._pay(out, day_ms + 6 * HOUR_MS + 1000, product, amount)

    def _catch_up(self, out: list[dict[str, Any]], d: int, day_ms: int,
                  paid_today: bool) -> None:
        """A customer in arrears pays them: within days of the bank's reminder (about one
        chance in three a day) when the month's essentials stay covered; otherwise only on a
        payday, with the same chance (food and rent first). A forgetful payer pays when they
        notice."""
        if d < self.forgot_until:
            return
        # what the month's essentials need: rent and bills still to come, and food
        reserve = self.monthly_fixed // 2 + int(self.grocery_ticket * self.grocery_p * 30)
        for product in ("card", *(loan.key for loan in self.loans)):
            owed = sum(x.amount for x in self.dues if x.product == product and x.due_day < d)
            if not owed or not self._can_pay(owed):
                continue
            covered = self._room() - owed >= reserve
            if (covered or paid_today) and self.rng.random() < 0.35:
                self._pay(out, day_ms + 10 * HOUR_MS, product, owed)

    def _product_account(self, product: str) -> tuple[str, str]:
        if product == "card":
            return self.card_account, "CREDIT_CARD"
        for loan in self.loans:
            if loan.key == product:
                return loan.account, "PERSONAL_LOAN"
        raise KeyError(product)

    def _pay(self, out: list[dict[str, Any]], ts: int, product: str, amount: int) -> bool:
        account, label = self._product_account(product)
        if self._can_pay(amount):
            out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", "LOAN_REPAYMENT",
                                counterparty="Own credit product"))
            out.append(self._payment(ts + 1, label, account, "PAYMENT_RECEIVED",
                                     amount_minor=amount))
            if product == "card":
                self.card_balance -= amount
            remaining = amount
            for due in self.dues:  # oldest first
                if due.product == product and remaining > 0:
                    paid = min(due.amount, remaining)
                    due.amount -= paid
                    remaining -= paid
            self.dues = [due for due in self.dues if due.amount > 0]
            return True
        out.append(self._tx(ts, amount, "DEBIT", "DIRECT_DEBIT", "LOAN_REPAYMENT",
                            status="RETURNED", decline_reason="INSUFFICIENT_FUNDS",
                            counterparty="Own credit product"))
        out.append(self._payment(ts + 1, label, account, "PAYMENT_FAILED",
                                 amount_minor=amount, failure_reason="INSUFFICIENT_FUNDS"))
        return False

    def _treatment_cure(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        """The true effect of the bank's contact on a treated customer in arrears: at the first
        miss it works (probability ``treatment_effect``) or not, once. When it works the
        customer settles every overdue amount ``_cure_lag`` (3-20) days after its due date,
        with help found after the contact (family, a hardship fund: a credit transfer when
        the account cannot cover it), so the customer never reaches 30 DPD."""
        overdue = [due for due in self.dues if due.due_day < d and due.amount > 0]
        if not overdue:
            return
        if self._cured is None:
            self._cured = self._effect_rng.random() < self.config.treatment_effect
            self._cure_lag = self._effect_rng.randint(3, 20)
            self.truth.cured = self._cured
        if not self._cured:
            return
        late = sorted({due.product for due in overdue if d - due.due_day >= self._cure_lag})
        for product in late:
            owed = sum(x.amount for x in self.dues if x.product == product and x.due_day < d)
            if not self._can_pay(owed):
                out.append(self._tx(day_ms + 14 * HOUR_MS, owed, "CREDIT", "TRANSFER", "OTHER",
                                    counterparty="Hardship support"))
            self._pay(out, day_ms + 15 * HOUR_MS, product, owed)

    def _arrears_run(self, out: list[dict[str, Any]], d: int, day_ms: int) -> None:
        if self._treated:
            self._treatment_cure(out, d, day_ms)
        worst = 0
        products = (["card"] if self.has_card else []) + [loan.key for loan in self.loans]
        for product in products:
            overdue = [due.due_day for due in self.dues if due.product == product
                       and due.due_day < d and due.amount > 0]
            dpd = d - min(overdue) if overdue else 0
            previous = self.dpd.get(product, 0)
            self.dpd[product] = dpd
            worst = max(worst, dpd)
            if self.config.arrears_statuses and (dpd > 0 or previous > 0):
                account, label = self._product_account(product)
                # the end-of-day arrears run: after the day's payments
                out.append(self._payment(day_ms + 23 * HOUR_MS + 30 * 60_000, label, account,
                                         "DELINQUENCY_STATUS", days_past_due=dpd))
        if worst > 0:
            self.truth.dpd_by_day[d] = worst

    def finish(self) -> CustomerTruth:
        self.truth.noise = tuple(self.noise)
        return self.truth
