"""Evaluation: detection mAP, tracking HOTA/MOTA/IDF1, latency."""
