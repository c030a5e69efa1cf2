"""Training, resume and torch inference on the tiny drawn dataset (a few seconds each)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from perception.config import override
from perception.models import TorchDetector, build_detector, load_detector, train_detector
from perception.models.data import Augment, DetectionDataset
from perception.types import Detections


W, H = 192, 128  # the tiny dataset's frames (conftest.py)


def test_loss_falls_and_each_epoch_is_reported(tiny_trained) -> None:
    result, seen = tiny_trained
    losses = [e["loss"] for e in result.epochs]
    assert seen == [1, 2, 3, 4, 5]
    assert losses[-1] < 0.7 * losses[0], losses
    assert result.device == "cpu" and result.resumed_from == 0 and not result.stopped_early
    assert result.model_path.is_file()
    assert len(list((result.model_path.parent / "checkpoints").glob("epoch-*.pt"))) == 5


def test_resume_continues_from_the_last_checkpoint(tiny_dataset: Path, tiny_config, tmp_path: Path) -> None:
    cfg = override(tiny_config, {"input_size": 64, "batch_size": 8})  # 2 steps per epoch
    first = train_detector(data_root=tiny_dataset, out_dir=tmp_path / "a", config=override(cfg, {"epochs": 1}))
    assert [e["epoch"] for e in first.epochs] == [1]
    second = train_detector(data_root=tiny_dataset, out_dir=tmp_path / "a", config=override(cfg, {"epochs": 2}))
    assert second.resumed_from == 1
    assert [e["epoch"] for e in second.epochs] == [1, 2]
    assert second.epochs[0] == first.epochs[0]  # epoch 1 was loaded, not retrained


def test_resume_after_a_kill_repeats_the_uninterrupted_run(tiny_dataset: Path, tiny_config, tmp_path: Path) -> None:
    cfg = override(tiny_config, {"input_size": 64, "batch_size": 8, "epochs": 2})
    whole = train_detector(data_root=tiny_dataset, out_dir=tmp_path / "whole", config=cfg)
    killed = tmp_path / "killed"
    shutil.copytree(tmp_path / "whole", killed)
    (killed / "model.pt").unlink()  # as if killed during epoch 2
    (killed / "checkpoints" / "epoch-002.pt").unlink()
    resumed = train_detector(data_root=tiny_dataset, out_dir=killed, config=cfg)
    assert resumed.resumed_from == 1 and len(resumed.epochs) == 2
    a = torch.load(whole.model_path, weights_only=True)["model"]
    b = torch.load(resumed.model_path, weights_only=True)["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-4) for k in a)


def test_training_refuses_a_dataset_with_other_classes(tiny_dataset: Path, tiny_config, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has classes"):
        train_detector(data_root=tiny_dataset, out_dir=tmp_path, config=override(tiny_config, {"classes": ["car"]}))


def test_time_budget_stops_early(tiny_dataset: Path, tiny_config, tmp_path: Path) -> None:
    cfg = override(tiny_config, {"epochs": 50, "max_train_minutes": 0.001})
    result = train_detector(data_root=tiny_dataset, out_dir=tmp_path, config=cfg, device="cpu")
    assert result.stopped_early and len(result.epochs) == 1 and result.epochs[0]["images"] == tiny_config.batch_size


def test_torch_detector_finds_the_shapes_in_original_pixels(tiny_trained, tiny_dataset: Path) -> None:
    import cv2

    model, config = load_detector(tiny_trained[0].model_path)
    detector = TorchDetector(model, config, device="cpu")
    image = cv2.imread(str(tiny_dataset / "c" / "img1" / "000001.jpg"))
    big = cv2.resize(image, (W * 2, H * 2))  # any input size: boxes come back in its pixels
    dets = detector.detect([image, big])
    assert len(dets) == 2 and all(isinstance(d, Detections) for d in dets)
    assert len(dets[0]) >= 1
    assert dets[0].xyxy[:, 2].max() <= W and dets[1].xyxy[:, 2].max() <= 2 * W
    best = dets[1].select(np.argsort(-dets[1].score)[:1])
    ref = dets[0].select(np.argsort(-dets[0].score)[:1])
    np.testing.assert_allclose(best.xyxy, 2 * ref.xyxy, atol=8)
    assert detector.detect([]) == []


def test_dataset_items_and_augmentation_keep_boxes_on_the_objects(tiny_dataset: Path) -> None:
    plain = DetectionDataset(tiny_dataset, split="train", input_size=128)
    image, target = plain[0]
    assert image.shape == (3, 128, 128) and image.dtype == torch.float32
    assert target["labels"].tolist() == [1, 2]  # class_id + 1
    np.testing.assert_allclose(target["boxes"][0].numpy(), np.array([12, 20, 72, 55]) * 128 / W, atol=1e-4)
    aug = DetectionDataset(tiny_dataset, split="train", input_size=128, augment=Augment(1.0, 0.3, 0.3), seed=1)
    aug.set_epoch(3)
    a1, t1 = aug[0]
    a2, t2 = aug[0]
    assert torch.equal(a1, a2) and torch.equal(t1["boxes"], t2["boxes"])  # seeded per (epoch, index)
    assert len(t1["boxes"]) >= 1 and (t1["boxes"][:, 2:] > t1["boxes"][:, :2]).all()
    with pytest.raises(ValueError, match="no frames"):
        DetectionDataset(tiny_dataset, split="val", input_size=128)


def test_crops_are_windows_of_the_frame_at_the_input_scale(tiny_dataset: Path) -> None:
    whole = DetectionDataset(tiny_dataset, split="train", input_size=(128, 192))  # scale 1: frames are 192x128
    crops = DetectionDataset(tiny_dataset, split="train", input_size=(128, 192), crop=64, seed=2)
    image, target = whole[0]
    assert image.shape == (3, 128, 192)
    seen_red = 0
    for epoch in range(6):
        crops.set_epoch(epoch)
        window, cut = crops[0]
        assert window.shape == (3, 64, 64)
        boxes = cut["boxes"].numpy()
        assert ((boxes >= 0) & (boxes <= 64)).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        # Same scale as the whole input: a box that is not cut by the window keeps its size.
        for box, label in zip(boxes, cut["labels"].tolist()):
            full = target["boxes"][target["labels"] == label][0].numpy()
            if box[0] > 0 and box[1] > 0 and box[2] < 64 and box[3] < 64:
                np.testing.assert_allclose(box[2:] - box[:2], full[2:] - full[:2], atol=1e-3)
            if label == 1 and (box[2:] - box[:2]).min() > 6:  # the red rectangle is where its box says
                x1, y1, x2, y2 = np.round(box + [2, 2, -2, -2]).astype(int)
                red, green = window[0, y1:y2, x1:x2].mean(), window[1, y1:y2, x1:x2].mean()
                assert red > 0.7 and green < 0.3, (red, green)
                seen_red += 1
    assert seen_red >= 1


def test_crop_training_gives_a_rectangular_detector(tiny_dataset: Path, tiny_config, tmp_path: Path) -> None:
    import cv2

    cfg = override(tiny_config, {"input_size": 192, "input_height": 128, "train_crop": 64, "epochs": 1})
    result = train_detector(data_root=tiny_dataset, out_dir=tmp_path, config=cfg, device="cpu")
    assert result.epochs[0]["images"] == 16 and np.isfinite(result.epochs[0]["loss"])
    model, loaded = load_detector(result.model_path)
    assert loaded.input_shape == (128, 192) and loaded.train_shape == (64, 64)
    detector = TorchDetector(model, override(loaded, {"score_threshold": 0.0}), device="cpu")
    assert detector.dense.anchors.shape[0] == sum((128 // s) * (192 // s) for s in (8, 16, 32)) + 2 * 3
    dets = detector.detect([cv2.imread(str(tiny_dataset / "c" / "img1" / "000001.jpg"))])[0]
    assert len(dets) >= 1 and (dets.xyxy[:, 2] <= W).all() and (dets.xyxy[:, 3] <= H).all()


@pytest.mark.parametrize("arch", ["ssdlite", "fasterrcnn_mnv3", "fcos_mnv3"])
def test_every_arch_builds_offline_trains_a_step_and_detects(arch: str, tiny_config) -> None:
    cfg = override(tiny_config, {"arch": arch, "input_size": 128})
    torch.manual_seed(0)
    model = build_detector(cfg)
    images = [torch.rand(3, 128, 128) for _ in range(2)]
    targets = [{"boxes": torch.tensor([[10.0, 10, 60, 40]]), "labels": torch.tensor([1])}] * 2
    losses = model.train()(images, targets)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    dets = TorchDetector(model, override(cfg, {"score_threshold": 0.0}), device="cpu").detect(
        [np.zeros((100, 150, 3), np.uint8)]
    )
    assert len(dets) == 1 and isinstance(dets[0], Detections)


def test_numpy_postprocess_matches_torchvisions_own(tiny_trained, tiny_dataset: Path) -> None:
    import cv2

    from perception.models.preprocess import to_batch

    model, config = load_detector(tiny_trained[0].model_path)
    image = cv2.imread(str(tiny_dataset / "c" / "img1" / "000004.jpg"))
    ours = TorchDetector(model, config, device="cpu").detect([image])[0]
    batch, scales = to_batch([image], size=config.input_size, mean=(0, 0, 0), std=(1, 1, 1))
    with torch.no_grad():
        theirs = model([torch.from_numpy(batch[0])])[0]  # torchvision's postprocess, same thresholds
    assert len(ours) == len(theirs["boxes"]) >= 1
    order = np.argsort(-ours.score)
    np.testing.assert_allclose(ours.score[order], theirs["scores"].numpy(), atol=1e-5)
    # torchvision clips to the letterbox canvas; we clip to the real image (padding holds nothing).
    expected = np.clip(theirs["boxes"].numpy() / scales[0], 0, [W, H, W, H])
    np.testing.assert_allclose(ours.xyxy[order], expected, atol=1e-3)
    assert (ours.class_id[order] == theirs["labels"].numpy() - 1).all()
