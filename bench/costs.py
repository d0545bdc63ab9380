"""`make bench`, costs: list-price cost per 1,000 videos of each polling design, from counted operations.

Every operation one task causes is counted per step of its workflow (the code's own calls: which DynamoDB
items each step reads and writes, which Lambda runs, what the gateways carry), and multiplied by how often
the step runs: status calls per task come from the polling simulation (``bench/polling.py``, the uniform
60-300 s mix), and the webhooks bench checks them end to end on the local stack. The designs differ only in
their wait loop; the rest of a task (create, submit, archive, storage, live updates) is the same for all.

Prices: AWS list prices, us-east-1, as published in 2026. Durations per invocation are assumptions, stated
next to each function below; their share of the total is small, and ratios between designs hardly move.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from bench import polling

# Per unit, in dollars.
PRICES = {
    "state transition": 0.025 / 1000,  # Step Functions Standard
    "Lambda request": 0.20 / 1_000_000,
    "Lambda GB-second": 0.0000133334,  # arm64
    "DynamoDB write unit": 0.625 / 1_000_000,  # on demand; a transaction's item counts twice
    "DynamoDB read unit": 0.125 / 1_000_000,  # on demand, strongly consistent item up to 4 KB
    "HTTP API request": 1.00 / 1_000_000,
    "WebSocket message": 1.00 / 1_000_000,
    "S3 PUT": 0.005 / 1000,
    "S3 GET": 0.0004 / 1000,
    "S3 GB-month": 0.023,
}
# (memory GB, seconds) per invocation: assumptions. The poll and submit make one HTTPS call and a write;
# archive streams a video (say 20 MB) from the provider into S3.
FUNCTIONS = {
    "api": (0.5, 0.10),
    "submit": (0.5, 0.50),
    "poll": (0.5, 0.25),
    "await": (0.25, 0.05),
    "webhook": (0.25, 0.10),
    "archive": (1.0, 3.00),
    "poster": (1.0, 1.50),  # download the video from S3 (same region), one ffmpeg frame, one PUT
    "broadcaster": (0.5, 0.10),
    "admit": (0.25, 0.05),
    "keeper": (0.25, 0.05),
}
VIDEO_GB = 0.02
POSTER_GB = 0.00003
STORAGE = "S3 GB-month"
STORED_MONTHS = 1.0  # MediaRetentionDays defaults to 30


@dataclass
class Count:
    """Operations of one task, by unit of price (and Lambda invocations by function)."""

    units: dict[str, float] = field(default_factory=dict)
    invocations: dict[str, float] = field(default_factory=dict)

    def add(self, unit: str, amount: float = 1.0) -> Count:
        self.units[unit] = self.units.get(unit, 0.0) + amount
        return self

    def invoke(self, function: str, times: float = 1.0) -> Count:
        self.invocations[function] = self.invocations.get(function, 0.0) + times
        memory, seconds = FUNCTIONS[function]
        self.add("Lambda request", times)
        return self.add("Lambda GB-second", times * memory * seconds)

    def dollars(self, *, storage: bool = False) -> float:
        """The running cost; with ``storage`` also keeping the video (the same for every design)."""
        return sum(PRICES[unit] * amount for unit, amount in self.units.items() if storage or unit != STORAGE)


def _task_write(count: Count, times: float = 1.0, *, transaction: bool = False, pushed: bool = True) -> None:
    """One write of the task item (a status change moves the user's counters in the same transaction); the
    stream carries it to the broadcaster, which finds the owner's connections and pushes one message."""
    count.add("DynamoDB write unit", times * (4 if transaction else 1))
    if pushed:
        count.invoke("broadcaster", times)
        count.add("DynamoDB read unit", times)  # the connections query
        count.add("WebSocket message", times)


def _admission(count: Count) -> None:
    """A task's way through its owner's queue and limits when a slot is free (services/queue.py): its queue
    entry and its rate and quota windows in the create's transaction; PlanAdmission reads the task; Admit
    reads it, parks its token, reads the slots and the queue head, and takes the slot (slots, task check,
    entry: one transaction); the queue keeper, run by the task's creation and by its end, reads the slots
    and the queue, numbers the new task (a pushed write) and frees the slot and the entry at the end."""
    count.add("DynamoDB write unit", 3 * 2)
    count.invoke("admit", 2).add("state transition", 2).add("DynamoDB read unit", 4)
    count.add("DynamoDB write unit", 1 + 3 * 2)
    count.invoke("keeper", 2).add("DynamoDB read unit", 4).add("DynamoDB write unit", 2)
    _task_write(count)


def per_task(polls: float, *, webhook: bool, learned: bool) -> Count:
    """What one video task costs with ``polls`` status calls. ``webhook``: every wait is the callback state
    (one park each) and the provider's call comes in once; ``learned``: the adaptive designs read and record
    the model's generation times."""
    count = Count()
    # create: the API request, the task + counters transaction, the execution's ARN
    count.add("HTTP API request").invoke("api")
    _task_write(count, transaction=True)
    count.add("DynamoDB write unit")
    _admission(count)
    # submit: read, the submit mark, QUEUED -> PROCESSING
    count.invoke("submit").add("DynamoDB read unit")
    _task_write(count, pushed=False)
    _task_write(count, transaction=True)
    if learned:
        count.add("DynamoDB read unit")  # the model's generation times
    # each poll: read the task, record progress and attempts (pushed to the browser)
    count.invoke("poll", polls).add("DynamoDB read unit", polls)
    _task_write(count, polls)
    if webhook:
        count.invoke("await", polls).add("DynamoDB write unit", polls)  # park the token
        # the provider's call: HTTP request, find the task (index + item), replay record, take the token
        count.add("HTTP API request").invoke("webhook").add("DynamoDB read unit", 2).add("DynamoDB write unit", 3)
    # archive: read, copy into S3, PROCESSING -> COMPLETED
    count.invoke("archive").add("DynamoDB read unit").add("S3 PUT").add("S3 GB-month", VIDEO_GB * STORED_MONTHS)
    _task_write(count, transaction=True)
    if learned:
        count.add("DynamoDB write unit")  # record the generation time
    # poster: read, the video read from S3 (ranged GETs: one per 8 MB part), one PUT, the poster's key
    # recorded (pushed: taskPoster); one more state (MakePoster); a ~30 KB JPEG stored beside the video
    count.invoke("poster").add("DynamoDB read unit").add("S3 GET", 3).add("S3 PUT")
    count.add("S3 GB-month", POSTER_GB * STORED_MONTHS)
    _task_write(count)
    count.add("state transition", polling.state_transitions(0) + 3 * polls + 1)
    return count


@dataclass(frozen=True)
class Design:
    name: str
    count: Count

    @property
    def per_thousand(self) -> float:
        return 1000 * self.count.dollars()


def designs(results: dict[str, dict[str, polling.Figures]] | None = None) -> list[Design]:
    results = results or polling.simulate()
    uniform = next(iter(results.values()))  # the uniform 60-300 s mix
    fixed, adaptive, hooked = (uniform[name].calls for name in polling.DESIGNS[:3])
    return [
        Design("fixed 30 s (the old loop)", per_task(fixed, webhook=False, learned=False)),
        Design("adaptive polling", per_task(adaptive, webhook=False, learned=True)),
        Design("adaptive + webhooks", per_task(hooked, webhook=True, learned=True)),
    ]


TARGET_RATIO = 0.5


def report(results: dict[str, dict[str, polling.Figures]] | None = None) -> str:
    found = designs(results)
    base = found[0].per_thousand
    units = [unit for unit in PRICES if unit != STORAGE]
    stored = 1000 * found[0].count.units[STORAGE] * PRICES[STORAGE]
    lines = [
        "Running cost per 1,000 videos at list prices (uniform 60-300 s mix; bench/costs.py states every assumption)",
        f"   (keeping them in S3 for a month adds ${stored:.4f}, the same for every design, so not in the ratios)",
    ]
    header = f"   {'':<28}" + "".join(f"{unit[:16]:>18}" for unit in units) + f"{'total':>10}{'ratio':>8}"
    lines.append(header)
    for design in found:
        cells = "".join(f"{1000 * design.count.units.get(unit, 0.0) * PRICES[unit]:>18.4f}" for unit in units)
        lines.append(f"   {design.name:<28}{cells}{design.per_thousand:>10.4f}{design.per_thousand / base:>7.2f}x")
    lines.append("   operations per task:")
    for design in found:
        counted = ", ".join(f"{unit} {amount:.2f}" for unit, amount in design.count.units.items() if unit != STORAGE)
        lines.append(f"     {design.name}: {counted}")
    lines.extend(f"   {verdict}" for verdict in verdicts(found))
    return "\n".join(lines)


def verdicts(found: list[Design]) -> Iterator[str]:
    base = found[0].per_thousand
    for design in found[1:]:
        ratio = design.per_thousand / base
        outcome = "PASS" if ratio <= TARGET_RATIO else "MISS"
        yield f"{outcome} {design.name}: {ratio:.2f}x the fixed 30 s design (target <= {TARGET_RATIO}x)"


if __name__ == "__main__":
    print(report())
