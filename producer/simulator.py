"""A card-transaction simulator: cards with homes and habits, terminals with places and categories,
daily and weekly rhythms, and five labelled fraud patterns. Deterministic for a given seed.

Fraud patterns (the `fraud_pattern` label, never part of the transaction message):
  card_testing          bursts of tiny online amounts within minutes on a stolen card number
  spending_spree        a stolen card spends far above its habit for a day or two
  impossible_travel     a cloned card is used far away minutes after a genuine purchase
  compromised_terminal  a terminal is compromised for weeks: every card used there is hit
  high_amount           a single very large purchase

Card and terminal ids embed the seed (C<seed % 1000><index>), so worlds of different seeds do not
share cards.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from include.transactions import Transaction
from producer.labelled import Labelled

DAY_MS = 86_400_000

# (name, lat, lon): the cities cards live in and terminals stand in.
CITIES = [
    ("Paris", 48.857, 2.352),
    ("Lyon", 45.764, 4.836),
    ("Marseille", 43.297, 5.370),
    ("Brussels", 50.850, 4.352),
    ("Amsterdam", 52.370, 4.895),
    ("Berlin", 52.520, 13.405),
    ("Munich", 48.135, 11.582),
    ("Hamburg", 53.551, 9.994),
    ("Madrid", 40.417, -3.704),
    ("Barcelona", 41.385, 2.173),
    ("Lisbon", 38.722, -9.139),
    ("Rome", 41.903, 12.496),
    ("Milan", 45.464, 9.190),
    ("Vienna", 48.208, 16.373),
    ("Zurich", 47.377, 8.541),
    ("Copenhagen", 55.676, 12.568),
    ("Stockholm", 59.329, 18.069),
    ("Warsaw", 52.230, 21.012),
    ("Prague", 50.076, 14.438),
    ("Dublin", 53.350, -6.260),
]
CATEGORIES = ["grocery", "fuel", "restaurant", "pharmacy", "fashion", "electronics", "travel", "online_services"]
CATEGORY_WEIGHTS = [0.30, 0.12, 0.18, 0.07, 0.10, 0.06, 0.04, 0.13]
# Relative activity per hour of day (UTC) and per weekday (Monday first).
HOUR_WEIGHTS = np.array(
    [
        0.3,
        0.15,
        0.1,
        0.1,
        0.15,
        0.3,
        0.8,
        1.4,
        1.8,
        2.0,
        2.2,
        2.6,
        3.0,
        2.6,
        2.2,
        2.1,
        2.3,
        2.8,
        3.0,
        2.6,
        2.0,
        1.4,
        0.9,
        0.5,
    ]
)
WEEKDAY_WEIGHTS = np.array([0.95, 0.95, 1.0, 1.0, 1.1, 1.25, 0.85])


@dataclass(frozen=True)
class FraudRates:
    """Expected number of fraud events per day per 1,000 cards."""

    card_testing: float = 0.5
    spending_spree: float = 0.8
    impossible_travel: float = 1.0
    compromised_terminal: float = 0.15  # terminals compromised per day per 1,000 cards
    high_amount: float = 0.4
    compromise_days: int = 21


@dataclass
class World:
    seed: int
    card_ids: list[str]
    card_city: np.ndarray
    card_home: np.ndarray  # (n, 2) lat, lon
    card_mean_amount: np.ndarray
    card_daily_rate: np.ndarray
    card_terminals: list[np.ndarray]
    terminal_ids: list[str]
    terminal_loc: np.ndarray  # (m, 2)
    terminal_category: list[str]
    terminal_city: np.ndarray
    online_terminals: np.ndarray


def build_world(n_cards: int, seed: int) -> World:
    rng = np.random.default_rng(seed)
    tag = f"{seed % 1000:03d}"
    n_terminals = max(50, n_cards * 2)
    city_weights = rng.dirichlet(np.ones(len(CITIES)) * 2)
    city_coords = np.array([(lat, lon) for _, lat, lon in CITIES])

    terminal_city = rng.choice(len(CITIES), size=n_terminals, p=city_weights)
    terminal_loc = city_coords[terminal_city] + rng.normal(0, 0.05, size=(n_terminals, 2))
    terminal_category = [CATEGORIES[i] for i in rng.choice(len(CATEGORIES), size=n_terminals, p=CATEGORY_WEIGHTS)]
    online = np.array([i for i, c in enumerate(terminal_category) if c == "online_services"])

    card_city = rng.choice(len(CITIES), size=n_cards, p=city_weights)
    card_home = city_coords[card_city] + rng.normal(0, 0.04, size=(n_cards, 2))
    card_mean_amount = np.exp(rng.normal(math.log(35), 0.6, size=n_cards))
    card_daily_rate = rng.uniform(0.8, 4.5, size=n_cards)
    by_city = {c: np.flatnonzero(terminal_city == c) for c in range(len(CITIES))}
    card_terminals = []
    for card in range(n_cards):
        local = by_city[card_city[card]]
        if len(local) == 0:
            local = np.arange(n_terminals)
        distance = np.hypot(*(terminal_loc[local] - card_home[card]).T)
        nearest = local[np.argsort(distance)[:40]]
        picks = rng.choice(nearest, size=min(len(nearest), rng.integers(8, 25)), replace=False)
        if len(online) and rng.random() < 0.7:
            picks = np.append(picks, rng.choice(online, size=min(2, len(online)), replace=False))
        card_terminals.append(picks)

    return World(
        seed,
        [f"C{tag}{i:06d}" for i in range(n_cards)],
        card_city,
        card_home,
        card_mean_amount,
        card_daily_rate,
        card_terminals,
        [f"T{tag}{j:06d}" for j in range(n_terminals)],
        terminal_loc,
        terminal_category,
        terminal_city,
        online,
    )


class Simulator:
    def __init__(self, n_cards: int, seed: int, start_ms: int, days: int, rates: FraudRates = FraudRates()):
        self.world = build_world(n_cards, seed)
        self.rng = np.random.default_rng(seed + 1)
        self.start_ms = start_ms - start_ms % DAY_MS
        self.days = days
        self.rates = rates
        self.seq = 0
        self.compromised: dict[int, int] = {}  # terminal index -> compromised until (ms)

    def _tx(self, card: int, terminal: int, amount: float, event_ms: int, pattern: str | None) -> Labelled:
        w = self.world
        self.seq += 1
        category = w.terminal_category[terminal]
        lat, lon = (round(float(v), 5) for v in w.terminal_loc[terminal])
        tx = Transaction(
            tx_id=f"sim{w.seed}-{self.seq:09d}",
            card_id=w.card_ids[card],
            terminal_id=w.terminal_ids[terminal],
            amount=round(max(0.5, float(amount)), 2),
            currency="EUR",
            event_ms=int(event_ms),
            merchant_category=category,
            channel="ecom" if category == "online_services" else "pos",
            lat=lat,
            lon=lon,
        )
        return Labelled(tx, pattern is not None, pattern)

    def _times(self, day_ms: int, n: int) -> np.ndarray:
        hours = self.rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
        return day_ms + hours * 3_600_000 + self.rng.integers(0, 3_600_000, size=n)

    def _per_day(self, rate_per_1000: float) -> int:
        return int(self.rng.poisson(rate_per_1000 * len(self.world.card_ids) / 1000))

    def _genuine(self, day_ms: int, weekday: int) -> list[Labelled]:
        w, out = self.world, []
        counts = self.rng.poisson(w.card_daily_rate * WEEKDAY_WEIGHTS[weekday])
        for card in np.flatnonzero(counts):
            for event_ms in self._times(day_ms, counts[card]):
                terminal = int(self.rng.choice(w.card_terminals[card]))
                amount = self.rng.lognormal(math.log(w.card_mean_amount[card]), 0.5)
                until = self.compromised.get(terminal, 0)
                out.append(
                    self._tx(card, terminal, amount, event_ms, "compromised_terminal" if event_ms < until else None)
                )
        return out

    def _frauds(self, day_ms: int, genuine: list[Labelled]) -> list[Labelled]:
        w, rng, r, out = self.world, self.rng, self.rates, []
        n_cards = len(w.card_ids)
        for _ in range(self._per_day(r.card_testing)):
            card, start = int(rng.integers(n_cards)), int(self._times(day_ms, 1)[0])
            for k in range(int(rng.integers(4, 12))):
                terminal = (
                    int(rng.choice(w.online_terminals))
                    if len(w.online_terminals)
                    else int(rng.integers(len(w.terminal_ids)))
                )
                out.append(
                    self._tx(
                        card,
                        terminal,
                        rng.uniform(0.5, 1.99),
                        start + k * int(rng.integers(20_000, 90_000)),
                        "card_testing",
                    )
                )
        for _ in range(self._per_day(r.spending_spree)):
            card, start = int(rng.integers(n_cards)), int(self._times(day_ms, 1)[0])
            city_terminals = np.flatnonzero(w.terminal_city == w.card_city[card])
            for k in range(int(rng.integers(3, 8))):
                terminal = (
                    int(rng.choice(city_terminals)) if len(city_terminals) else int(rng.integers(len(w.terminal_ids)))
                )
                out.append(
                    self._tx(
                        card,
                        terminal,
                        w.card_mean_amount[card] * rng.uniform(6, 20),
                        start + k * int(rng.integers(600_000, 7_200_000)),
                        "spending_spree",
                    )
                )
        if genuine:
            for _ in range(self._per_day(r.impossible_travel)):
                anchor = genuine[int(rng.integers(len(genuine)))].tx
                card = int(anchor.card_id[4:])  # C<seed tag, 3 digits><index, 6 digits>
                far = np.flatnonzero(np.hypot(*(w.terminal_loc - w.card_home[card]).T) > 12)  # > ~1,000 km
                if len(far):
                    out.append(
                        self._tx(
                            card,
                            int(rng.choice(far)),
                            w.card_mean_amount[card] * rng.uniform(1, 4),
                            anchor.event_ms + int(rng.integers(300_000, 3_600_000)),
                            "impossible_travel",
                        )
                    )
        for _ in range(self._per_day(r.high_amount)):
            card = int(rng.integers(n_cards))
            out.append(
                self._tx(
                    card,
                    int(rng.choice(w.card_terminals[card])),
                    rng.uniform(1_500, 9_000),
                    int(self._times(day_ms, 1)[0]),
                    "high_amount",
                )
            )
        for _ in range(self._per_day(r.compromised_terminal)):
            self.compromised[int(rng.integers(len(w.terminal_ids)))] = day_ms + r.compromise_days * DAY_MS
        return out

    def transactions(self) -> Iterator[Labelled]:
        """All transactions in event-time order (ties by tx_id), day by day."""
        pending: list[tuple[int, str, Labelled]] = []
        for day in range(self.days):
            day_ms = self.start_ms + day * DAY_MS
            weekday = int((day_ms // DAY_MS + 3) % 7)  # 1970-01-01 was a Thursday
            genuine = self._genuine(day_ms, weekday)
            for item in genuine + self._frauds(day_ms, genuine):
                heapq.heappush(pending, (item.tx.event_ms, item.tx.tx_id, item))
            next_day = day_ms + DAY_MS
            while pending and pending[0][0] < next_day:
                yield heapq.heappop(pending)[2]
        while pending:
            yield heapq.heappop(pending)[2]
