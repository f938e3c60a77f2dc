"""Simulation settings: the size of a run and the scenario (how stress and noise behave).

Two scenarios are named: ``reference`` (the one the documented model figures are measured on)
and ``hard`` (more noise, weaker and later signals, more sudden shocks, seasonal spend). Each
field of :class:`Scenario` is one knob of the stress process; docs/simulator.md explains them
with the figures of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

__all__ = ["SCENARIOS", "STRESS_KINDS", "Scenario", "SimulationConfig"]

DEFAULT_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STRESS_KINDS = ("job_loss", "income_shock", "expense_shock", "over_indebtedness")


@dataclass(frozen=True)
class Scenario:
    name: str
    # share of customers hit by one stress episode during the run, and how the kinds mix
    stress_share: float
    kind_weights: tuple[float, float, float, float]  # in STRESS_KINDS order
    # days from the onset until a stressed customer adapts (spends less, bridges with credit)
    reaction_days: tuple[int, int]
    spending_cut: tuple[float, float]  # share of discretionary spending cut when adapting
    credit_bridge: float  # probability that a stressed card holder bridges with the card
    lending_take_up: float  # probability that a stressed non-user turns to lending apps
    severance_share: float  # job losses paid a final lump sum (delays the strain)
    # probability that the episode ends (new job, hours back, spending reined in) in the run
    recovery_share: tuple[float, float, float, float]
    # liquid buffer at the start, in months of income: lognormal median and sigma
    buffer_median_months: float
    buffer_sigma: float
    savings_share: float  # customers with a savings pot they draw on
    # noise: things that look like stress, or misses without stress
    fraud_share: float  # card fraud bursts, refunded days later
    technical_miss: float  # per due date, a manual payer forgets (pays days late)
    long_technical_share: float  # ... and does not notice for over a month
    late_salary: float  # per payday, the employer pays 1-5 days late
    holiday_share: float  # a summer holiday paid from the account or the card
    december_uplift: float  # discretionary spending in December, times normal
    lending_user: float  # healthy lending-app users
    bnpl_user: float
    gambler: float
    irregular_pay: float  # share of irregular earners (gig, self-employed)


SCENARIOS: dict[str, Scenario] = {
    "reference": Scenario(
        name="reference",
        stress_share=0.25,
        kind_weights=(0.25, 0.25, 0.2, 0.3),
        reaction_days=(7, 21),
        spending_cut=(0.2, 0.45),
        credit_bridge=0.7,
        lending_take_up=0.3,
        severance_share=0.25,
        recovery_share=(0.45, 0.35, 1.0, 0.3),
        buffer_median_months=0.45,
        buffer_sigma=0.9,
        savings_share=0.35,
        fraud_share=0.03,
        technical_miss=0.03,
        long_technical_share=0.08,
        late_salary=0.02,
        holiday_share=0.3,
        december_uplift=1.35,
        lending_user=0.06,
        bnpl_user=0.18,
        gambler=0.07,
        irregular_pay=0.14,
    ),
    "hard": Scenario(
        name="hard",
        stress_share=0.2,
        kind_weights=(0.2, 0.25, 0.3, 0.25),
        reaction_days=(14, 45),
        spending_cut=(0.05, 0.3),
        credit_bridge=0.5,
        lending_take_up=0.15,
        severance_share=0.4,
        recovery_share=(0.55, 0.45, 1.0, 0.4),
        buffer_median_months=0.35,
        buffer_sigma=1.1,
        savings_share=0.3,
        fraud_share=0.06,
        technical_miss=0.06,
        long_technical_share=0.1,
        late_salary=0.06,
        holiday_share=0.45,
        december_uplift=1.6,
        lending_user=0.12,
        bnpl_user=0.3,
        gambler=0.1,
        irregular_pay=0.22,
    ),
}


@cache
def _default_experiment() -> tuple[str, float]:
    from stream_app.policy import load_policy  # not at import: the policy needs the scoring

    experiment = load_policy().experiment
    return experiment.id, experiment.control_fraction


@dataclass(frozen=True)
class SimulationConfig:
    customers: int = 1000
    days: int = 180
    seed: int = 7
    start_ms: int = DEFAULT_START_MS
    scenario: str = "reference"  # a key of SCENARIOS
    stress_share: float | None = None  # overrides the scenario's share when set
    currency: str = "EUR"
    arrears_statuses: bool = True  # emit DELINQUENCY_STATUS from a daily arrears run
    # true treatment effect: probability that a TREATMENT-arm customer who misses a payment is
    # cured before reaching 30 DPD (0: no effect, the events of a seed are unchanged)
    treatment_effect: float = 0.0
    # the experiment that assigns the arms; None: the default policy's (as the worker's)
    experiment_id: str | None = None
    control_fraction: float | None = None
    _resolved: Scenario = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            scenario = SCENARIOS[self.scenario]
        except KeyError:
            raise ValueError(f"unknown scenario {self.scenario!r}; known: "
                             f"{', '.join(sorted(SCENARIOS))}") from None
        if self.stress_share is not None:
            if not 0.0 <= self.stress_share <= 1.0:
                raise ValueError("stress_share must be between 0 and 1")
            from dataclasses import replace

            scenario = replace(scenario, stress_share=self.stress_share)
        object.__setattr__(self, "_resolved", scenario)
        if not 0.0 <= self.treatment_effect <= 1.0:
            raise ValueError("treatment_effect must be between 0 and 1")
        if self.control_fraction is not None and not 0.0 <= self.control_fraction <= 1.0:
            raise ValueError("control_fraction must be between 0 and 1")

    @property
    def experiment(self) -> tuple[str, float]:
        """``(experiment id, control fraction)``: the default policy's unless overridden, so
        that the simulator's arms are the worker's (``stream_app.policy.in_control_group``)."""
        default_id, default_fraction = _default_experiment()
        return (self.experiment_id if self.experiment_id is not None else default_id,
                self.control_fraction if self.control_fraction is not None
                else default_fraction)

    @property
    def profile(self) -> Scenario:
        """The scenario with any override applied."""
        return self._resolved
