"""Prometheus metrics on a per-app ``CollectorRegistry`` (two apps in one process never share counts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.frames = Counter("percept_frames", "Frames processed", ["stream"], registry=r)
        self.dropped = Counter("percept_dropped_frames", "Frames dropped", ["stream", "reason"], registry=r)
        self.latency = Histogram(
            "percept_latency_seconds", "Capture to publish", buckets=LATENCY_BUCKETS, registry=r
        )
        self.batch_size = Histogram(
            "percept_batch_size", "Frames per ORT call", buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32), registry=r
        )
        self.fps = Gauge("percept_stream_fps", "Frames per second over the last 2 s", ["stream"], registry=r)
        self.model_version = Gauge(
            "percept_model_version", "Registry version being served (0 = none)", registry=r
        )
        self.swaps = Counter("percept_model_swaps", "Hot swaps to a new model version", registry=r)
        self.births = Counter("percept_track_births", "Tracks started", ["stream"], registry=r)
        self.deaths = Counter("percept_track_deaths", "Tracks ended", ["stream"], registry=r)
        self.streams = Gauge("percept_streams", "Streams held", registry=r)

    def forget_stream(self, stream_id: str) -> None:
        """Drop a removed stream's label sets so label cardinality stays bounded."""
        for metric in (self.frames, self.fps, self.births, self.deaths):
            try:
                metric.remove(stream_id)
            except KeyError:
                pass
        for reason in ("stale", "backpressure", "error"):
            try:
                self.dropped.remove(stream_id, reason)
            except KeyError:
                pass

    def render(self) -> bytes:
        return generate_latest(self.registry)
