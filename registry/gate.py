"""The promotion gate: does a challenger's evaluation beat the champion's? Pure, no MLflow.

Metric units (as the evaluation report writes them):
``hota`` in points on 0..100 (TrackEval HOTA x 100), ``map50`` as a fraction on 0..1 (COCO AP at
IoU 0.5), ``latency_ms_b1`` in milliseconds per frame at batch size 1. Other keys are ignored.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from perception.config import override

GATED_METRICS = ("hota", "map50", "latency_ms_b1")
# Deltas are differences of floats read back from text tags; a margin met "exactly" must pass.
_EPS = 1e-9


@dataclass(frozen=True)
class GateConfig:
    """What a challenger must show to become champion (``params.yaml`` key ``gate:``).

    min_improvement_hota: HOTA points the challenger must gain over the champion. Higher keeps
        a stable champion (fewer hot-swaps, fewer ID resets downstream) but ignores small real
        gains; 0 lets a tie through; negative tolerates a small regression.
    min_improvement_map50: absolute mAP@0.5 (0..1) the challenger must gain. The default 0 means
        "detection must not get worse" while HOTA carries the decision.
    latency_budget_ms: the most a frame may take at batch 1, champion or not. Lower protects the
        control loop's rate; too low refuses every larger (better) detector.
    floor_hota, floor_map50: the bar for the very first model, when there is no champion to beat.
        Too high and a fresh deployment never serves anything; too low and it serves noise.
    """

    min_improvement_hota: float = 1.0
    min_improvement_map50: float = 0.0
    latency_budget_ms: float = 100.0
    floor_hota: float = 20.0
    floor_map50: float = 0.2

    def __post_init__(self) -> None:
        for name in ("min_improvement_hota", "min_improvement_map50", "floor_hota", "floor_map50"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"GateConfig.{name} must be a finite number, got {value!r}")
        budget = self.latency_budget_ms
        if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not budget > 0:
            raise ValueError(f"GateConfig.latency_budget_ms must be > 0 (inf = no budget), got {budget!r}")
        if not 0 <= self.floor_hota <= 100:
            raise ValueError(f"GateConfig.floor_hota is in HOTA points 0..100, got {self.floor_hota!r}")
        if not 0 <= self.floor_map50 <= 1:
            raise ValueError(f"GateConfig.floor_map50 is a fraction 0..1, got {self.floor_map50!r}")


def gate_config(params: Mapping[str, Any] | None) -> GateConfig:
    """The gate config from a ``params.yaml`` mapping (its ``gate:`` key); unknown keys raise."""
    return override(GateConfig(), (params or {}).get("gate"))


@dataclass(frozen=True)
class GateDecision:
    """promote: move ``champion``. reasons: one sentence per check, with the numbers.
    report: JSON-ready record of inputs, config and each check (goes into the ledger)."""

    promote: bool
    reasons: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The short form of each failed check (or of every check when promoted), joined."""
        checks = self.report.get("checks", [])
        picked = [c for c in checks if not c["passed"]] if not self.promote else checks
        return "; ".join(c["short"] for c in picked)


def decide(
    challenger: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    config: GateConfig,
) -> GateDecision:
    """Gate ``challenger``'s metrics against ``champion``'s (or the floors when there is none).

    Promote only if every check passes: HOTA and mAP@0.5 each improve by at least their margin
    (or reach their floor for a first model) and latency fits the budget.
    Raises ValueError when a gated metric is missing or not a finite number.
    """
    ch = _metrics(challenger, "challenger")
    cp = _metrics(champion, "champion") if champion is not None else None
    checks = []
    if cp is None:
        checks.append(_floor("HOTA", ch["hota"], config.floor_hota, "{:.1f}"))
        checks.append(_floor("mAP50", ch["map50"], config.floor_map50, "{:.3f}"))
    else:
        hota_margin, map_margin = config.min_improvement_hota, config.min_improvement_map50
        checks.append(_margin("HOTA", ch["hota"], cp["hota"], hota_margin, "{:+.1f}", "{:.1f}"))
        checks.append(_margin("mAP50", ch["map50"], cp["map50"], map_margin, "{:+.3f}", "{:.3f}"))
    lat, budget = ch["latency_ms_b1"], config.latency_budget_ms
    ok = lat <= budget + _EPS
    checks.append(
        {
            "name": "latency",
            "passed": ok,
            "short": f"latency {lat:.1f} ms {'<=' if ok else '>'} budget {budget:g} ms",
            "sentence": f"Latency at batch 1 is {lat:.1f} ms, "
            + (f"within the {budget:g} ms budget." if ok else f"over the {budget:g} ms budget."),
        }
    )
    promote = all(c["passed"] for c in checks)
    report = {
        "promote": promote,
        "challenger": ch,
        "champion": cp,
        "config": asdict(config),
        "checks": checks,
    }
    return GateDecision(promote=promote, reasons=[c["sentence"] for c in checks], report=report)


def _metrics(values: Mapping[str, Any], who: str) -> dict[str, float]:
    out = {}
    for key in GATED_METRICS:
        if key not in values:
            raise ValueError(
                f"{who} metrics lack {key!r} (have {sorted(values)}); the gate needs {GATED_METRICS}"
            )
        try:
            value = float(values[key])
        except (TypeError, ValueError):
            raise ValueError(f"{who} metric {key}={values[key]!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{who} metric {key}={value!r} is not finite")
        out[key] = value
    return out


def _floor(label: str, value: float, floor: float, fmt: str) -> dict[str, Any]:
    ok = value >= floor - _EPS
    v, f = fmt.format(value), fmt.format(floor)
    return {
        "name": label.lower(),
        "passed": ok,
        "short": f"{label} {v} {'>=' if ok else '<'} floor {f}",
        "sentence": f"No champion yet: {label} {v} "
        + ("reaches" if ok else "is below")
        + f" the first-model floor of {f}.",
    }


def _margin(label: str, value: float, base: float, margin: float, dfmt: str, fmt: str) -> dict[str, Any]:
    delta = value - base
    ok = delta >= margin - _EPS
    d, m = dfmt.format(delta), fmt.format(margin)
    return {
        "name": label.lower(),
        "passed": ok,
        "short": f"{label} {d} {'>=' if ok else '<'} margin {m}",
        "sentence": f"{label} {fmt.format(value)} vs champion {fmt.format(base)}: {d} "
        + ("meets" if ok else "is below")
        + f" the required margin of {m}.",
    }
