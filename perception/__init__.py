"""percept's perception library: types, data, detectors, trackers, evaluation, geometry.

Imports numpy, torch, torchvision, cv2, onnxruntime, pycocotools and trackeval only; never
Prefect, MLflow, Ray, DVC or FastAPI (those live in flows/, registry/ and services/).
"""
